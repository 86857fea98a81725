"""Class-level checks of generated digits: were the requested classes drawn, and are all classes drawn?"""

import math

import torch

from .judge import JudgeFeatures


def judge_predictions(images: torch.Tensor, judge: JudgeFeatures, batch_size: int = 1000) -> torch.Tensor:
    """The judge's class for each image in (N, C, H, W), values in [0, 1]."""
    return torch.cat([judge.predict(chunk) for chunk in images.split(batch_size)])


def conditional_accuracy(images: torch.Tensor, requested: torch.Tensor, judge: JudgeFeatures) -> float:
    """Share of images that the judge assigns to the class they were generated for."""
    if len(images) != len(requested):
        raise ValueError(f"Got {len(images)} images but {len(requested)} requested labels.")
    return (judge_predictions(images, judge).cpu() == requested.cpu()).float().mean().item()


def class_coverage(images: torch.Tensor, judge: JudgeFeatures, num_classes: int) -> dict:
    """The judge's histogram of predicted classes and its entropy, in bits (log2(num_classes) when uniform).

    Mode collapse shows as a low entropy: a generator that draws only one digit scores 0.
    """
    counts = torch.bincount(judge_predictions(images, judge).cpu(), minlength=num_classes)[:num_classes]
    shares = counts.double() / counts.sum()
    entropy = -sum(p * math.log2(p) for p in shares.tolist() if p > 0)
    return {"histogram": counts.tolist(), "entropy_bits": entropy, "max_entropy_bits": math.log2(num_classes)}
