#!/usr/bin/env python
"""Train the convolutional image classifier with Accelerate, on any image-classification data: a Hub dataset or a
local copy (`--dataset_name`), or image folders with one subfolder per class (`--train_dir`/`--validation_dir`).

The same script runs on CPU, one GPU or many, with or without mixed precision, and resumes where it stopped:

    # your photos: photos/train/cat/*.jpg, photos/train/dog/*.jpg, and the same under photos/val
    accelerate launch scripts/train_cnn.py --train_dir photos/train --validation_dir photos/val \
        --output_dir runs/cats-vs-dogs
    # MNIST: 28x28 grayscale digits, the network that judges generated digits
    accelerate launch scripts/train_cnn.py --dataset_name ylecun/mnist --output_dir runs/mnist-cnn \
        --random_rotation 0 --random_shift 0 --random_scale 0 --num_train_epochs 6

Images are converted to `--num_channels` (default: RGB when the training images have color, else grayscale) and
resized to an `--image_size` square (default: the images' own size when they all share one of at most 64 pixels, else
64) by the image processor saved with the model, so that the model reads new
pictures exactly as it was trained. Class names come from the dataset (or the folder names) into `id2label`.
It writes the model and its image processor with `save_pretrained` (loadable with or without hfnets installed),
`all_results.json` with the measured validation metrics, and a model card `README.md`.
"""

import argparse
import dataclasses
import functools
import itertools
import math
import sys
import time

import numpy as np
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin
from datasets import IterableDataset

from hfnets import CnnConfig, CnnForImageClassification, CnnImageProcessor, hub
from hfnets.training.accelerator import (
    check_distributed,
    device_synchronize,
    resolve_mixed_precision,
    set_up_run,
    unwrap,
)
from hfnets.training.augment import RandomAffine
from hfnets.training.checkpointing import resume_run, save_pretrained_atomically
from hfnets.training.data import (
    StreamedImageBatches,
    batch_dataloader,
    check_labels,
    decode_labels,
    example_count,
    first_images,
    image_datasets,
    keep_on_device,
    load_image_splits,
)
from hfnets.training.flags import (
    IMAGE_DATA_FLAGS,
    add_image_args,
    add_training_args,
    data_flags,
    validate_training_args,
)
from hfnets.training.optimization import build_lr_scheduler, build_optimizer, training_length
from hfnets.training.output_dir import prepare_output_dir, start_tracking
from hfnets.training.results import describe_hardware, evaluate_classifier, run_results
from hfnets.training.run import end_run, run_main, training_progress_bar

logger = get_logger(__name__)

PROJECT_NAME = "train_cnn"
MAX_DEFAULT_IMAGE_SIZE = 64
# The last convolution block works on maps of at least this side (7 for MNIST's 28 pixels after two blocks).
MIN_FEATURE_SIDE = 7
# New models normalize with the mean and deviation of this many training images, spread through the set.
STATISTICS_IMAGES = 10_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets convolutional image classifier with Accelerate.")
    add_training_args(
        parser,
        dataset_name=None,
        learning_rate=1e-3,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=128,  # a convolution's maps of 1024 photos would take GBs
        num_train_epochs=30,
        lr_scheduler_type="cosine",
        weight_decay=0.05,
    )
    data = add_image_args(parser, folders=True)
    data.add_argument(
        "--num_channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="1: grayscale, 3: RGB (default: 3 when the first training images have color, else 1).",
    )
    data.add_argument(
        "--image_size",
        type=int,
        default=None,
        help=f"Side of the square the network reads (default: the images' own size when the first 200 share one of at "
        f"most {MAX_DEFAULT_IMAGE_SIZE} pixels, else {MAX_DEFAULT_IMAGE_SIZE}).",
    )
    augment = parser.add_argument_group("augmentation (training images only)")
    augment.add_argument("--random_rotation", type=float, default=10.0, help="Rotate by up to +-N degrees.")
    augment.add_argument("--random_shift", type=float, default=0.1, help="Shift by up to +-F of the side.")
    augment.add_argument("--random_scale", type=float, default=0.1, help="Scale by a factor in [1-F, 1+F].")
    augment.add_argument(
        "--random_flip",
        choices=("auto", "on", "off"),
        default="auto",
        help="Mirror half the training images left-right: right for photos, wrong for digits and text (auto: on for "
        "RGB images, off for grayscale).",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model_name_or_path", type=str, default=None, help="Continue from a saved hfnets CNN (folder or Hub id)."
    )
    model.add_argument(
        "--conv_channels",
        type=int,
        nargs="+",
        default=None,
        help="Channels of the convolution blocks, one number per block (default: 32, 64, ... doubling, until the "
        f"maps are about {MIN_FEATURE_SIDE} pixels wide).",
    )
    model.add_argument(
        "--batch_norm",
        choices=("on", "off"),
        default=None,
        help="Batch normalization after each convolution (default: on; the MNIST judge's recipe has it off).",
    )
    model.add_argument(
        "--pooling",
        choices=("flatten", "average", "max"),
        default=None,
        help="How the last maps reach the hidden layer: flatten (each position its own weights: digits), max or "
        "average (each channel's peak or mean over the map: objects anywhere in a photo). Default: max for RGB, "
        "flatten for grayscale.",
    )
    model.add_argument("--hidden_size", type=int, default=None, help="Width of the hidden layer (default: 128).")
    model.add_argument("--dropout", type=float, default=None, help="Dropout (default: 0.25).")
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    if (args.dataset_name is None) == (args.train_dir is None):
        parser.error(
            "Give the data as --dataset_name (a Hub id or a local copy) or as --train_dir (an image folder): one of "
            "the two."
        )
    if args.validation_dir is not None and args.train_dir is None:
        parser.error("--validation_dir needs --train_dir.")
    shape_flags = [
        f"--{name}"
        for name in ("conv_channels", "hidden_size", "dropout", "image_size", "num_channels")
        if getattr(args, name) is not None
    ]
    if args.model_name_or_path is not None and shape_flags:
        parser.error(
            f"{' and '.join(shape_flags)} describe a new network; --model_name_or_path continues a saved one with its "
            "own."
        )
    if args.image_size is not None and args.image_size < 8:
        parser.error(f"--image_size must be at least 8, got {args.image_size}.")
    if args.conv_channels is not None and any(c < 1 for c in args.conv_channels):
        parser.error(f"--conv_channels must be positive integers, got {args.conv_channels}.")
    try:
        args.augmentation = RandomAffine(args.random_rotation, args.random_shift, args.random_scale)
    except ValueError as error:
        parser.error(f"--random_rotation/--random_shift/--random_scale: {error}")
    return args


def default_conv_channels(image_size: int) -> list[int]:
    """32, 64, ... channels: one block more while the maps stay at least `MIN_FEATURE_SIDE` wide and `image_size`
    divides evenly (MNIST's 28 -> two blocks, 7x7 maps; 64 -> three, 8x8)."""
    blocks = 1
    while image_size // 2 ** (blocks + 1) >= MIN_FEATURE_SIDE and image_size % 2 ** (blocks + 1) == 0:
        blocks += 1
    return [32 * 2**i for i in range(blocks)]


def infer_image_shape(dataset, image_column: str) -> tuple[int, tuple[int, int] | None]:
    """(channels, the common (width, height) or None), read from up to 200 training images without decoding all."""
    images = first_images(dataset, image_column, 200)
    color = any(image.mode not in ("L", "1", "I", "I;16", "F", "LA") for image in images)
    sizes = {image.size for image in images}
    return (3 if color else 1), (sizes.pop() if len(sizes) == 1 else None)


def to_squares(images: list, processor: CnnImageProcessor) -> torch.Tensor:
    """Images as the processor makes them (channels, resized to the square), as one uint8 tensor (N, C, S, S):
    training reads images exactly as the saved processor will read new ones."""
    return torch.from_numpy(
        np.stack([(processor.to_square(image) * 255).round().astype(np.uint8) for image in images])
    )


def channel_statistics(dataset, image_column: str, decode, max_images: int = STATISTICS_IMAGES):
    """Per-channel mean and standard deviation on the [0, 1] scale, over up to `max_images` training images spread
    evenly through the set (a streamed one: its first images), decoded 256 at a time and summed in float64."""
    if isinstance(dataset, IterableDataset):
        rows = iter(dataset)
        batches = iter(lambda: [row[image_column] for row in itertools.islice(rows, 256)], [])
        batches = itertools.islice(batches, -(-max_images // 256))
    else:
        indices = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), max_images)).round().astype(int))
        batches = (dataset[indices[i : i + 256].tolist()][image_column] for i in range(0, len(indices), 256))
    sums = squares = count = 0
    for batch in batches:
        images = decode(batch).double().div_(255)
        sums = sums + images.sum((0, 2, 3))
        squares = squares + images.square().sum((0, 2, 3))
        count += images[:, 0].numel()
    mean = sums / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt() * math.sqrt(count / max(count - 1, 1))
    return mean.tolist(), std.clamp_min(1e-3).tolist()


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
    # Copied from scripts.train_mlp.main step 0 with train_mlp->train_cnn
    hub.check_hub_access(args.push_to_hub, args.hub_token)  # no usable token: fail now, not after training
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=resolve_mixed_precision(args.mixed_precision),
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(
            args.output_dir, logging_dir=f"{args.output_dir}/runs", total_limit=args.checkpoints_total_limit
        ),
        # shuffles seeded by (seed, epoch): a run resumed mid-epoch sees the order an uninterrupted one does
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
        dynamo_plugin=TorchDynamoPlugin(backend="inductor") if args.torch_compile else None,
    )
    set_up_run(accelerator, args.seed, tf32=not args.no_tf32)
    check_distributed(accelerator, "scripts/train_cnn.py", sharded_weights=False)

    # 1. Data: a dataset or image folders, with their class names.
    splits = load_image_splits(accelerator, seed=args.seed, **data_flags(args, IMAGE_DATA_FLAGS))
    train_raw, eval_raw, image_column = splits.train, splits.eval, splits.image_column
    train_labels, eval_labels = splits.train_labels, decode_labels(eval_raw, splits.label_column)

    # 2. The network and its image processor: a saved one, or a new one shaped by the images.
    if args.model_name_or_path is not None:
        config = CnnConfig.from_pretrained(args.model_name_or_path)
        processor = CnnImageProcessor.from_pretrained(args.model_name_or_path)
        if len(splits.class_names) != config.num_labels:
            raise ValueError(
                f"The data has {len(splits.class_names)} classes and the model {args.model_name_or_path} "
                f"{config.num_labels}: train a new model, or give data with the model's classes "
                f"{list(config.id2label.values())}."
            )
    else:
        channels, common_size = infer_image_shape(train_raw, image_column)
        num_channels = args.num_channels or channels
        image_size = args.image_size
        if image_size is None:
            fits = common_size is not None and common_size[0] == common_size[1] <= MAX_DEFAULT_IMAGE_SIZE
            image_size = common_size[0] if fits else MAX_DEFAULT_IMAGE_SIZE
        names = splits.class_names
        config = CnnConfig(
            image_size=image_size,
            num_channels=num_channels,
            conv_channels=args.conv_channels or default_conv_channels(image_size),
            batch_norm=args.batch_norm != "off",
            pooling=args.pooling or ("max" if num_channels == 3 else "flatten"),
            hidden_size=args.hidden_size or 128,
            dropout=0.25 if args.dropout is None else args.dropout,
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
        processor = CnnImageProcessor(image_size=config.image_size, num_channels=config.num_channels)
    check_labels(train_labels, config.num_labels, "training")
    check_labels(eval_labels, config.num_labels, "evaluation")
    config.problem_type = "single_label_classification"  # said up front: the loss would write it at the first step
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, config.model_type, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))

    flip = args.random_flip == "on" or (args.random_flip == "auto" and config.num_channels == 3)
    args.augmentation = dataclasses.replace(args.augmentation, flip=flip)  # known once the images' channels are
    decode = functools.partial(to_squares, processor=processor)
    if args.model_name_or_path is None:  # normalize with the training images' own statistics, saved with the model
        processor.image_mean, processor.image_std = channel_statistics(train_raw, image_column, decode)

    # 2b. The images: decoded once into memory when they fit --memory_budget, else batch by batch as they are read.
    # Copied from scripts.train_mlp.main step 2b
    train_dataset, eval_dataset = image_datasets(
        {"train": (train_raw, train_labels), "eval": (eval_raw, eval_labels)},
        image_column,
        decode,
        processor.image_mean,
        processor.image_std,
        image_shape=(config.num_channels, config.image_size, config.image_size),
        memory_budget=args.memory_budget,
        label_column=splits.label_column,
    )
    workers = args.dataloader_num_workers
    if args.streaming:  # read in order, once; the position in the stream is part of every checkpoint
        batches = args.max_train_steps * args.gradient_accumulation_steps
        train_dataloader = StreamedImageBatches(train_dataset, args.per_device_train_batch_size, accelerator, batches)
        accelerator.register_for_checkpointing(train_dataloader)
    else:
        train_dataloader = batch_dataloader(
            keep_on_device(train_dataset, accelerator.device),
            args.per_device_train_batch_size,
            True,
            args.seed,
            workers,
        )
    eval_dataloader = batch_dataloader(
        keep_on_device(eval_dataset, accelerator.device), args.per_device_eval_batch_size, False, args.seed, workers
    )

    # 3. Model and optimizer.
    if args.model_name_or_path is not None:
        model = CnnForImageClassification.from_pretrained(args.model_name_or_path)
    else:
        model = CnnForImageClassification(config)
    optimizer = build_optimizer(accelerator, model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader
    )

    # 4. Schedule, sized after `prepare` because the dataloader is now sharded across processes.
    # Copied from scripts.train_mlp.main step 4
    num_update_steps_per_epoch, max_train_steps, num_train_epochs = training_length(
        len(train_dataloader), args.gradient_accumulation_steps, args.max_train_steps, args.num_train_epochs
    )
    lr_scheduler = build_lr_scheduler(
        accelerator, optimizer, args.lr_scheduler_type, args.num_warmup_steps, max_train_steps
    )
    checkpointing_steps = args.checkpointing_steps  # an int, 'epoch' or None

    # 5. Resume: restore model, optimizer, schedule and RNG states, then skip the batches already seen this epoch.
    # Copied from scripts.train_mlp.main step 5
    # What a checkpoint must match to be resumed: the model's configuration and how the data is batched (with the
    # processes and the gradient accumulation steps, which resume_run adds).
    examples = example_count(train_dataset)
    batching = {"per_device_train_batch_size": args.per_device_train_batch_size, "train_samples": examples}
    resumed, checkpoint = resume_run(  # checkpoint(step, train_runtime=seconds): the weights are checked first
        accelerator,
        args.resume_from_checkpoint,
        [model],
        batching,
        None if args.streaming else num_update_steps_per_epoch,  # a stream resumes from its saved position
    )
    completed_steps, starting_epoch = resumed.completed_steps, resumed.starting_epoch

    total_batch_size = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    logger.info("***** Running training *****")
    logger.info(f"  Examples = {examples}, evaluation examples = {len(eval_dataset)}")
    logger.info(f"  Classes = {list(config.id2label.values())}, images {config.num_channels}x{config.image_size}^2")
    logger.info(f"  Epochs = {num_train_epochs}, optimizer steps = {max_train_steps}, batch = {total_batch_size}")
    progress_bar = training_progress_bar(accelerator, max_train_steps, completed_steps)

    # 6. The training loop: augment on the device, step, evaluate after each epoch.
    # Copied from scripts.train_mlp.main step 6
    train_time = resumed.train_runtime  # seconds trained before a resume count too
    samples_seen = 0
    metrics: dict[str, float] = {}
    for epoch in range(starting_epoch, num_train_epochs):
        model.train()
        train_dataloader.set_epoch(epoch)  # the shuffle order is a function of (seed, epoch)
        if epoch == starting_epoch and resumed.batches_to_skip:
            active_dataloader = accelerator.skip_first_batches(train_dataloader, resumed.batches_to_skip)
        else:
            active_dataloader = train_dataloader
        loss_sum = torch.zeros((), device=accelerator.device)
        num_batches = 0
        epoch_start = time.perf_counter()
        for batch in active_dataloader:
            batch["pixel_values"] = args.augmentation(batch["pixel_values"])
            with accelerator.accumulate(model):
                outputs = model(**batch)
                accelerator.backward(outputs.loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            loss_sum += outputs.loss.detach()  # summed on the device: no host sync per step
            num_batches += 1
            samples_seen += len(batch["labels"])
            if accelerator.sync_gradients:
                progress_bar.update(1)
                completed_steps += 1
                if isinstance(checkpointing_steps, int) and completed_steps % checkpointing_steps == 0:
                    checkpoint(completed_steps, train_runtime=train_time + time.perf_counter() - epoch_start)
                if completed_steps >= max_train_steps:
                    break
        device_synchronize(accelerator)
        train_time += time.perf_counter() - epoch_start

        metrics = evaluate_classifier(model, eval_dataloader, accelerator, config.num_labels)
        metrics["train_loss"] = accelerator.reduce(loss_sum / max(num_batches, 1), "mean").item()
        metrics["epoch"] = epoch + 1
        logger.info(
            f"epoch {epoch + 1}: train_loss {metrics['train_loss']:.4f}, eval_loss {metrics['eval_loss']:.4f}, "
            f"eval_accuracy {metrics['eval_accuracy']:.4f}"
        )
        accelerator.log({**metrics, "learning_rate": lr_scheduler.get_last_lr()[0]}, step=completed_steps)
        if checkpointing_steps == "epoch":
            checkpoint(completed_steps, train_runtime=train_time)
        if completed_steps >= max_train_steps:
            break
    progress_bar.close()
    if not metrics:  # resumed from a checkpoint taken at the very end: just evaluate
        metrics = {
            **evaluate_classifier(model, eval_dataloader, accelerator, config.num_labels),
            "epoch": num_train_epochs,
        }

    # 7. Results, saved model and processor, card and upload.
    seen = ("samples", samples_seen, train_time - resumed.train_runtime)  # counted in this launch's seconds
    results = run_results(accelerator, [model], metrics, completed_steps, train_time, seen)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = unwrap(accelerator, model)
        command = argv if argv is not None else sys.argv[1:]
        card = build_model_card(args, results, unwrapped, accelerator, command, processor, flip)
        # the card and the results go in with the model, in one swap
        save_pretrained_atomically(args.output_dir, unwrapped, processor, files=hub.run_files(results, card))
        hub.publish_run(
            args.output_dir, results, card, args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo
        )
        accelerator.print(
            f"validation accuracy {results['eval_accuracy']:.4f} (eval loss {results['eval_loss']:.4f}) after "
            f"{completed_steps} steps; model saved to {args.output_dir}"
        )
    end_run(accelerator, model, optimizer)
    return results


# Copied from scripts.train_mlp.classifier_card_values
def classifier_card_values(args, results, accelerator) -> dict:
    """What the classifiers' cards say alike: what the model measured and how it was trained."""
    return {
        "eval_accuracy": f"{results['eval_accuracy']:.4f}",
        "eval_loss": f"{results['eval_loss']:.4f}",
        "epochs": results["epoch"],
        "steps": results["step"],
        "batch_size": args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "lr_scheduler_type": args.lr_scheduler_type,
        "seed": args.seed,
        "mixed_precision": results["mixed_precision"],
        "hardware": describe_hardware(accelerator),
        "train_runtime": f"{results['train_runtime']:.1f}",
    }


def build_model_card(args, results, model, accelerator, command: list[str], processor: CnnImageProcessor, flip: bool):
    """The model card, filled from this run's flags and measured metrics."""
    config = model.config
    dataset_id = hub.card_dataset_id(args.dataset_name, args.card_dataset_id, args.train_dir)
    split = args.eval_split or ("validation" if args.validation_dir else "held-out" if args.train_dir else "test")
    card_data = hub.card_data(
        "transformers",
        "image-classification",
        ["hfnets", "cnn", "image-classification"],
        dataset_id,
        hub.default_repo_id(args.hub_model_id, args.output_dir),
        hub.card_base_model(args.model_name_or_path),
        {"accuracy": results["eval_accuracy"]},
        split=split,
    )
    augmentation = []
    if args.augmentation.enabled:
        augmentation.append(
            f"random affine (rotation +-{args.random_rotation:g} degrees, shift +-{args.random_shift:g}, scale "
            f"+-{args.random_scale:g})"
        )
    if flip:
        augmentation.append("random left-right flips")
    return hub.render_model_card(
        "cnn",
        card_data,
        repo_id=hub.default_repo_id(args.hub_model_id, args.output_dir),
        classes=", ".join(f"`{name}`" for name in config.id2label.values()),
        num_labels=config.num_labels,
        image_size=config.image_size,
        color="RGB" if config.num_channels == 3 else "grayscale",
        conv_channels=", ".join(map(str, config.conv_channels)),
        num_blocks=len(config.conv_channels),
        hidden_size=config.hidden_size,
        dropout=config.dropout,
        num_parameters=f"{model.num_parameters():,}",
        image_mean=", ".join(f"{m:.4f}" for m in processor.image_mean),
        image_std=", ".join(f"{s:.4f}" for s in processor.image_std),
        dataset_id=dataset_id,
        eval_split=split,
        eval_samples=results["eval_samples"],
        augmentation="; ".join(augmentation) or "none",
        command=hub.training_command("scripts/train_cnn.py", command),
        **classifier_card_values(args, results, accelerator),
    )


if __name__ == "__main__":
    run_main(main)
