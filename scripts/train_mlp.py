#!/usr/bin/env python
"""Train the MNIST multilayer perceptron (784-128-10, ReLU, softmax) with Accelerate (the convolutional network has
its own script, scripts/train_cnn.py).

The same script runs on CPU, one GPU or many, with or without mixed precision, and resumes where it stopped:

    accelerate launch scripts/train_mlp.py --dataset_name ylecun/mnist --output_dir mnist-mlp
    python scripts/train_mlp.py --dataset_name ../shared/datasets/mnist --output_dir mnist-mlp \
        --checkpointing_steps epoch
    python scripts/train_mlp.py --dataset_name ../shared/datasets/mnist --output_dir mnist-mlp \
        --resume_from_checkpoint latest
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 scripts/train_mlp.py --output_dir mnist-mlp

It writes the model and its image processor with `save_pretrained` (loadable with or without hfnets installed),
`all_results.json` with the measured test metrics, and a model card `README.md`.
"""

import argparse
import functools
import sys
import time

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin
from transformers import AutoConfig, AutoModelForImageClassification

from hfnets import DigitClassificationPipeline, MnistMlpConfig, MnistMlpImageProcessor, hub
from hfnets.mlp.configuration_mlp import SUPPORTED_ACTIVATIONS
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
    image_datasets,
    keep_on_device,
    load_image_splits,
    pil_images_to_tensor,
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
from hfnets.training.sampling import png_bytes

logger = get_logger(__name__)

PROJECT_NAME = "train_mlp"
MISTAKES_FILE = "mistakes.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets MNIST MLP classifier with Accelerate.")
    add_training_args(
        parser,
        dataset_name="ylecun/mnist",
        learning_rate=3e-3,
        per_device_train_batch_size=256,
        num_train_epochs=20,
        lr_scheduler_type="cosine",
        weight_decay=0.05,
    )
    add_image_args(parser)
    augment = parser.add_argument_group("augmentation (training images only; all off by default)")
    augment.add_argument(
        "--random_rotation", type=float, default=0.0, help="Rotate each training image by up to +-N degrees."
    )
    augment.add_argument(
        "--random_shift", type=float, default=0.0, help="Shift each training image by up to +-F of its side."
    )
    augment.add_argument(
        "--random_scale", type=float, default=0.0, help="Scale each training image by a factor in [1-F, 1+F]."
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model_name_or_path",
        type=str,
        default=None,
        help="Start from a saved hfnets MLP (folder or Hub id) instead of a new network.",
    )
    model.add_argument(
        "--hidden_sizes", type=int, nargs="*", default=None, help="Hidden layer widths (default: one layer of 128)."
    )
    model.add_argument(
        "--hidden_act",
        type=str,
        default=None,
        choices=SUPPORTED_ACTIVATIONS,
        help="Hidden activation (default: relu).",
    )
    model.add_argument("--dropout", type=float, default=None, help="Dropout (default: 0).")
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    # The shape flags describe a new network: refused where they would be ignored.
    shape_flags = [f"--{name}" for name in ("hidden_sizes", "hidden_act") if getattr(args, name) is not None]
    if args.model_name_or_path is not None and (shape_flags or args.dropout is not None):
        given = shape_flags + (["--dropout"] if args.dropout is not None else [])
        parser.error(
            f"{' and '.join(given)} describe a new network; --model_name_or_path continues a saved one with its own."
        )
    args.hidden_sizes = [128] if args.hidden_sizes is None else args.hidden_sizes
    args.hidden_act = args.hidden_act or "relu"
    if any(size < 1 for size in args.hidden_sizes):
        parser.error(f"--hidden_sizes must be positive integers, got {args.hidden_sizes}.")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}.")
    try:
        args.augmentation = RandomAffine(args.random_rotation, args.random_shift, args.random_scale)
    except ValueError as error:
        parser.error(f"--random_rotation/--random_shift/--random_scale: {error}")
    return args


@torch.no_grad()
def mistakes_image(model, dataset, id2label: dict, max_images: int = 24, zoom: int = 3):
    """The first evaluation images the model gets wrong, enlarged and captioned "true > predicted", as one PIL image
    for the model card; None when it gets every one right."""
    model.eval()
    wrong = []
    for start in range(0, len(dataset), 1024):
        batch = dataset.__getitems__(list(range(start, min(start + 1024, len(dataset)))))
        predicted = model(pixel_values=batch["pixel_values"]).logits.argmax(-1)
        for index in (predicted != batch["labels"]).nonzero().flatten().tolist():
            wrong.append((start + index, batch["labels"][index].item(), predicted[index].item()))
        if len(wrong) >= max_images:
            break
    if not wrong:
        return None
    wrong = wrong[:max_images]
    columns = min(8, len(wrong))
    pictures = dataset.pixels([index for index, _, _ in wrong]).cpu()
    size = pictures.shape[-1] * zoom
    caption = 18
    font = PIL.ImageFont.load_default(size=14)
    sheet = PIL.Image.new("L", (columns * size, -(-len(wrong) // columns) * (size + caption)), color=255)
    pen = PIL.ImageDraw.Draw(sheet)
    for tile, (_, true, guess) in enumerate(wrong):
        image = pictures[tile].float().mean(0).to(torch.uint8).numpy()  # channels -> gray
        x, y = (tile % columns) * size, (tile // columns) * (size + caption)
        sheet.paste(PIL.Image.fromarray(image).resize((size, size), PIL.Image.Resampling.NEAREST), (x, y))
        pen.text((x + 4, y + size + 1), f"{id2label[true]} > {id2label[guess]}", fill=0, font=font)
    return sheet


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
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
    check_distributed(accelerator, "scripts/train_mlp.py", sharded_weights=False)

    # 1. Data: load with `datasets`, with the labels (the images are decoded once the model's input size is known).
    splits = load_image_splits(accelerator, seed=args.seed, **data_flags(args, IMAGE_DATA_FLAGS))
    train_raw, eval_raw, image_column = splits.train, splits.eval, splits.image_column
    train_labels, eval_labels = splits.train_labels, decode_labels(eval_raw, splits.label_column)

    # 2. Model configuration: a new network named after the dataset's classes, or a saved one.
    if args.model_name_or_path is not None:
        config = AutoConfig.from_pretrained(args.model_name_or_path)
        if not isinstance(config, MnistMlpConfig):
            other = " (scripts/train_cnn.py trains the CNN)" if "cnn" in config.model_type else ""
            raise ValueError(
                f"--model_name_or_path {args.model_name_or_path} holds a {config.model_type!r} model; this script "
                f"trains the MNIST multilayer perceptron (hfnets-mnist-mlp){other}."
            )
        try:
            processor = MnistMlpImageProcessor.from_pretrained(args.model_name_or_path)
        except OSError:  # a model saved without its processor: use the standard one
            processor = MnistMlpImageProcessor(image_size=config.image_size)
    else:
        names = splits.class_names
        labels = {"id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}
        dropout = {} if args.dropout is None else {"dropout": args.dropout}
        config = MnistMlpConfig(hidden_sizes=args.hidden_sizes, hidden_act=args.hidden_act, **labels, **dropout)
        processor = MnistMlpImageProcessor(image_size=config.image_size)
    check_labels(train_labels, config.num_labels, "training")
    check_labels(eval_labels, config.num_labels, "evaluation")
    # The labels are class indices. Said up front: transformers' loss would otherwise record it in the config at the
    # first step, and a resumed run's config would then differ from its checkpoints'.
    config.problem_type = "single_label_classification"
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, config.model_type, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))

    decode = functools.partial(pil_images_to_tensor, num_channels=config.num_channels, size=config.image_size)

    # 2b. The images: decoded once into memory when they fit --memory_budget, else batch by batch as they are read.
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
        model = AutoModelForImageClassification.from_pretrained(args.model_name_or_path)
    else:
        model = AutoModelForImageClassification.from_config(config)
    optimizer = build_optimizer(accelerator, model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader
    )

    # 4. Schedule, sized after `prepare` because the dataloader is now sharded across processes.
    num_update_steps_per_epoch, max_train_steps, num_train_epochs = training_length(
        len(train_dataloader), args.gradient_accumulation_steps, args.max_train_steps, args.num_train_epochs
    )
    lr_scheduler = build_lr_scheduler(
        accelerator, optimizer, args.lr_scheduler_type, args.num_warmup_steps, max_train_steps
    )
    checkpointing_steps = args.checkpointing_steps  # an int, 'epoch' or None

    # 5. Resume: restore model, optimizer, schedule and RNG states, then skip the batches already seen this epoch.
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

    # 7. Results, saved model, card and upload.
    seen = ("samples", samples_seen, train_time - resumed.train_runtime)  # counted in this launch's seconds
    results = run_results(accelerator, [model], metrics, completed_steps, train_time, seen)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = unwrap(accelerator, model)
        mistakes = mistakes_image(unwrapped, eval_dataset.to(accelerator.device), config.id2label)
        command = argv if argv is not None else sys.argv[1:]
        card = build_model_card(args, results, unwrapped, accelerator, command, mistakes is not None)
        # The card, the results and the mistakes go in with the model, in one swap (None: an earlier run's picture
        # would contradict this card). Saved as a pipeline: config.json then names the pipeline class that keeps
        # transparent drawings intact.
        files = {**hub.run_files(results, card), MISTAKES_FILE: None if mistakes is None else png_bytes(mistakes)}
        pipe = DigitClassificationPipeline(model=unwrapped, image_processor=processor)
        save_pretrained_atomically(args.output_dir, pipe, files=files)
        hub.publish_run(
            args.output_dir, results, card, args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo
        )
        accelerator.print(
            f"test accuracy {results['eval_accuracy']:.4f} (eval loss {results['eval_loss']:.4f}) after "
            f"{completed_steps} steps; model saved to {args.output_dir}"
        )
    end_run(accelerator, model, optimizer)
    return results


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


def build_model_card(args, results, model, accelerator, command: list[str], has_mistakes: bool):
    """The model card, filled from this run's flags and measured metrics."""
    config = model.config
    dataset_id = hub.card_dataset_id(args.dataset_name, args.card_dataset_id)
    sizes = "-".join(str(n) for n in [config.input_size, *config.hidden_sizes, config.num_labels])
    architecture = f"{sizes} multilayer perceptron ({config.hidden_act} hidden units, softmax output)"
    card_data = hub.card_data(
        "transformers",
        "image-classification",
        ["hfnets", "mlp", "mnist", "image-classification"],
        dataset_id,
        hub.default_repo_id(args.hub_model_id, args.output_dir),
        hub.card_base_model(args.model_name_or_path),
        {"accuracy": results["eval_accuracy"]},
        split=args.eval_split or "test",
    )
    return hub.render_model_card(
        "mlp",
        card_data,
        repo_id=hub.default_repo_id(args.hub_model_id, args.output_dir),
        architecture=architecture,
        dropout=config.dropout,
        augmentation=describe_augmentation(args.augmentation),
        mistakes=(
            f"The first {args.eval_split or 'test'} images it gets wrong (true label > prediction):\n\n"
            f"![Misclassified {args.eval_split or 'test'} images]({MISTAKES_FILE})"
            if has_mistakes
            else f"It classifies every {args.eval_split or 'test'} image right."
        ),
        num_parameters=f"{model.num_parameters():,}",
        dataset_id=dataset_id,
        eval_split=args.eval_split or "test",
        command=hub.training_command("scripts/train_mlp.py", command),
        **classifier_card_values(args, results, accelerator),
    )


def describe_augmentation(augmentation: RandomAffine) -> str:
    if not augmentation.enabled:
        return "none"
    return (
        f"random affine per image: rotation up to +-{augmentation.degrees:g} degrees, shift up to "
        f"+-{augmentation.translate:g} of the side, scaling by up to +-{augmentation.scale:g}"
    )


if __name__ == "__main__":
    run_main(main)
