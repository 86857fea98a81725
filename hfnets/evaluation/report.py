"""Evaluate an image-generation pipeline (GAN or DDPM) against real MNIST with a judge: the numbers of a report."""

import torch

from .classes import class_coverage, conditional_accuracy
from .frechet import frechet_distance
from .judge import JudgeFeatures


@torch.no_grad()
def generate_for_evaluation(
    pipe, num_samples: int, num_classes: int, seed: int = 0, batch_size: int = 250, **pipeline_kwargs
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`num_samples` images in [0, 1] as (N, C, H, W), and the labels asked for: an equal share of every class for
    a conditional pipeline (100 per class for 1,000 samples), none for an unconditional one."""
    if num_classes and num_samples % num_classes != 0:
        raise ValueError(f"--num_samples ({num_samples}) must be a multiple of the {num_classes} classes.")
    labels = torch.arange(num_classes).repeat_interleave(num_samples // num_classes) if num_classes else None
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        kwargs = {"class_labels": labels[start : start + count].tolist()} if labels is not None else {}
        output = pipe(batch_size=count, generator=generator, output_type="pt", **kwargs, **pipeline_kwargs)
        chunks.append(output.images.float().cpu())
    return torch.cat(chunks), labels


def evaluation_report(
    images: torch.Tensor,
    requested: torch.Tensor | None,
    judge: JudgeFeatures,
    real_test: torch.Tensor,
    real_train: torch.Tensor,
    num_classes: int,
) -> dict:
    """Judge metrics of generated `images` against real ones (all (N, C, H, W) in [0, 1]).

    `frechet_distance_floor` is the same distance between real training and real test images: what a perfect
    generator would score with this many samples.
    """
    report = {
        "num_samples": len(images),
        "frechet_distance": frechet_distance(real_test, images, judge),
        "frechet_distance_floor": frechet_distance(real_test, real_train, judge),
        "class_coverage": class_coverage(images, judge, num_classes or judge.classifier.config.num_labels),
    }
    if requested is not None:
        report["conditional_accuracy"] = conditional_accuracy(images, requested, judge)
    return report


def judge_pipeline(
    pipe,
    judge_model: str,
    num_samples: int,
    num_classes: int,
    real_train: torch.Tensor,
    real_test: torch.Tensor,
    seed: int = 0,
    **pipeline_kwargs,
) -> dict:
    """Generate `num_samples` images (an equal share per class) and report on them with the judge `judge_model`
    (a classifier folder or Hub id), against real training and test images ((N, C, H, W) in [0, 1])."""
    judge = JudgeFeatures.from_pretrained(judge_model)
    pipe.set_progress_bar_config(disable=True)
    samples, requested = generate_for_evaluation(pipe, num_samples, num_classes, seed=seed, **pipeline_kwargs)
    return evaluation_report(samples, requested, judge, real_test, real_train, num_classes)
