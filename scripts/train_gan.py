#!/usr/bin/env python
"""Train the class-conditional GAN on MNIST with Accelerate: hinge loss, spectral normalization, two time-scale
learning rates and an exponential moving average of the generator.

    accelerate launch scripts/train_gan.py --dataset_name ylecun/mnist --output_dir mnist-gan
    accelerate launch scripts/train_gan.py --output_dir mnist-gan --resume_from_checkpoint latest \
        --checkpointing_steps epoch

It writes a `GanPipeline` (the EMA generator and the discriminator, loadable with
`DiffusionPipeline.from_pretrained(..., trust_remote_code=True)`) and the training history: the fixed-noise sample
grid at the end of each epoch in `samples/step-<step>.png` (the generator as it was then, before averaging; one row
per class), each epoch's losses in `all_results.json`'s "history", and the final grid in `samples.png`.
"""

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin
from diffusers.training_utils import EMAModel
from torch.nn import functional as F

from hfnets import GanDiscriminator, GanGenerator, GanPipeline, hub
from hfnets.evaluation import judge_pipeline
from hfnets.training.accelerator import (
    check_distributed,
    device_synchronize,
    global_batch_rows,
    resolve_mixed_precision,
    set_up_run,
    unwrap,
)
from hfnets.training.checkpointing import resume_run, save_pretrained_atomically
from hfnets.training.data import (
    StreamedImageBatches,
    batch_dataloader,
    check_labels,
    decode_images,
    example_count,
    first_pixels,
    image_datasets,
    keep_on_device,
    load_image_splits,
    pil_images_to_tensor,
)
from hfnets.training.flags import (
    IMAGE_DATA_FLAGS,
    add_image_args,
    add_judge_args,
    add_training_args,
    data_flags,
    validate_training_args,
)
from hfnets.training.optimization import build_optimizer, training_length
from hfnets.training.output_dir import prepare_output_dir, start_tracking
from hfnets.training.results import describe_hardware, run_results
from hfnets.training.run import end_run, run_main, training_progress_bar
from hfnets.training.sampling import image_grid, png_bytes

logger = get_logger(__name__)

PROJECT_NAME = "train_gan"
# Images are scaled to [-1, 1], the range of the generator's tanh: (x / 255 - 0.5) / 0.5.
PIXEL_MEAN, PIXEL_STD = 0.5, 0.5
# Each evaluation draws this many images per class with the same fixed noise, one row per class.
SAMPLES_PER_CLASS = 10
NUM_CHANNELS = 1  # the generator draws grayscale digits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets class-conditional GAN with Accelerate.")
    add_training_args(
        parser,
        dataset_name="ylecun/mnist",
        learning_rate=2e-4,
        per_device_train_batch_size=64,
        num_train_epochs=20,
        lr_scheduler_type=None,  # the GAN recipe: Adam at a constant rate, no decay
        weight_decay=None,
        evaluation_batches=False,  # judged on generated samples, not on batches of the evaluation split
        gradient_accumulation=False,  # the two optimizers alternate every batch
    )
    data = add_image_args(parser)
    data.add_argument("--resolution", type=int, default=28, help="Image side (a multiple of 4); others are resized.")
    model = parser.add_argument_group("model")
    model.add_argument("--latent_dim", type=int, default=64, help="Size of the generator's noise vector.")
    model.add_argument("--base_channels", type=int, default=32, help="Width of both networks.")
    model.add_argument("--unconditional", action="store_true", help="Ignore the labels: an unconditional GAN.")
    optim = parser.add_argument_group("optimization")
    optim.add_argument(
        "--discriminator_learning_rate",
        type=float,
        default=4e-4,
        help="The discriminator's learning rate (two time-scale update rule: faster than the generator's).",
    )
    optim.add_argument("--adam_beta1", type=float, default=0.0, help="Adam beta1 of both optimizers.")
    optim.add_argument("--adam_beta2", type=float, default=0.9, help="Adam beta2 of both optimizers.")
    optim.add_argument("--ema_decay", type=float, default=0.999, help="EMA decay of the saved generator (0: off).")
    evaluation = parser.add_argument_group("evaluation")
    add_judge_args(evaluation)
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    if args.resolution < 4 or args.resolution % 4 != 0:
        parser.error(f"--resolution must be a multiple of 4, got {args.resolution}.")
    if not 0.0 <= args.ema_decay < 1.0:
        parser.error(f"--ema_decay must be in [0, 1), got {args.ema_decay}.")
    return args


@torch.no_grad()
def sample_grid(generator, latents: torch.Tensor, labels: torch.Tensor | None):
    """The fixed-noise grid: one row per class (or rows of 10 unconditional samples)."""
    was_training = generator.training
    generator.eval()
    images = (generator(latents, labels).sample / 2 + 0.5).clamp(0, 1)
    generator.train(was_training)
    return image_grid(images, rows=len(images) // SAMPLES_PER_CLASS)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
    # Copied from scripts.train_mlp.main step 0 with args.gradient_accumulation_steps->1, train_mlp->train_gan
    hub.check_hub_access(args.push_to_hub, args.hub_token)  # no usable token: fail now, not after training
    accelerator = Accelerator(
        gradient_accumulation_steps=1,
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
    check_distributed(accelerator, "scripts/train_gan.py", sharded_weights=False)

    # 1. Data: the images and their labels.
    splits = load_image_splits(
        accelerator, seed=args.seed, **data_flags(args, IMAGE_DATA_FLAGS), labelled=not args.unconditional
    )
    train_raw, eval_raw, image_column, labels = splits.train, splits.eval, splits.image_column, splits.train_labels
    num_classes = len(splits.class_names)
    if num_classes:
        check_labels(labels, num_classes, "training")
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, GanPipeline.__name__, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))
    # decoded once into memory when the images fit --memory_budget, else batch by batch as they are read
    decode = functools.partial(pil_images_to_tensor, num_channels=NUM_CHANNELS, size=args.resolution)
    shape = (NUM_CHANNELS, args.resolution, args.resolution)
    [dataset] = image_datasets(
        {"train": (train_raw, labels)},
        image_column,
        decode,
        PIXEL_MEAN,
        PIXEL_STD,
        shape,
        args.memory_budget,
        label_column=splits.label_column,
    )
    if args.streaming:  # read in order, once; the position in the stream is part of every checkpoint
        batches = args.max_train_steps * getattr(args, "gradient_accumulation_steps", 1)
        dataloader = StreamedImageBatches(dataset, args.per_device_train_batch_size, accelerator, batches)
        accelerator.register_for_checkpointing(dataloader)
    else:
        dataloader = batch_dataloader(
            keep_on_device(dataset, accelerator.device),
            args.per_device_train_batch_size,
            shuffle=True,
            seed=args.seed,
            num_workers=args.dataloader_num_workers,
        )

    # 2. The two networks and their optimizers (two time-scale update rule: the discriminator learns faster).
    shape = {"num_classes": num_classes, "image_size": args.resolution, "base_channels": args.base_channels}
    generator = GanGenerator(latent_dim=args.latent_dim, **shape)
    discriminator = GanDiscriminator(**shape)
    betas = (args.adam_beta1, args.adam_beta2)
    optimizer_g = build_optimizer(
        accelerator, generator.parameters(), torch.optim.Adam, lr=args.learning_rate, betas=betas
    )
    optimizer_d = build_optimizer(
        accelerator, discriminator.parameters(), torch.optim.Adam, lr=args.discriminator_learning_rate, betas=betas
    )
    generator, discriminator, optimizer_g, optimizer_d, dataloader = accelerator.prepare(
        generator, discriminator, optimizer_g, optimizer_d, dataloader
    )
    ema = None
    if args.ema_decay > 0:
        ema = EMAModel(unwrap(accelerator, generator).parameters(), decay=args.ema_decay)
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)
    num_update_steps_per_epoch, max_train_steps, num_train_epochs = training_length(
        len(dataloader), 1, args.max_train_steps, args.num_train_epochs
    )

    # 3. Resume: both networks, both optimizers, the EMA and the RNG states.
    # What a checkpoint must match to be resumed: the model's configuration and how the data is batched (with the
    # processes and the gradient accumulation steps, which resume_run adds).
    examples = example_count(dataset)
    batching = {"per_device_train_batch_size": args.per_device_train_batch_size, "train_samples": examples}
    resumed, checkpoint = resume_run(  # checkpoint(step, train_runtime=seconds): the weights are checked first
        accelerator,
        args.resume_from_checkpoint,
        [generator, discriminator],
        batching,
        None if args.streaming else num_update_steps_per_epoch,  # a stream resumes from its saved position
    )
    completed_steps, starting_epoch = resumed.completed_steps, resumed.starting_epoch

    # Fixed noise for the sample grids: the same digits at every evaluation show progress.
    fixed = torch.Generator().manual_seed(args.seed)
    grid_size = SAMPLES_PER_CLASS * max(num_classes, 1)
    fixed_latents = torch.randn(grid_size, args.latent_dim, generator=fixed).to(accelerator.device)
    fixed_labels = None
    if num_classes:
        fixed_labels = torch.arange(num_classes).repeat_interleave(SAMPLES_PER_CLASS).to(accelerator.device)
    samples_dir = Path(args.output_dir, "samples")

    logger.info("***** Running training *****")
    logger.info(f"  Images = {examples}, classes = {num_classes}, steps = {max_train_steps}")
    progress_bar = training_progress_bar(accelerator, max_train_steps, completed_steps)

    # 4. The training loop: one discriminator step and one generator step per batch.
    train_time = resumed.train_runtime  # seconds trained before a resume count too
    metrics: dict[str, float] = {}
    history: list[dict[str, float]] = []
    for epoch in range(starting_epoch, num_train_epochs):
        generator.train()
        discriminator.train()
        dataloader.set_epoch(epoch)
        active = dataloader
        if epoch == starting_epoch and resumed.batches_to_skip:
            active = accelerator.skip_first_batches(dataloader, resumed.batches_to_skip)
        sums = torch.zeros(3, device=accelerator.device)  # discriminator loss, generator loss, D accuracy on fakes
        num_batches = 0
        start = time.perf_counter()
        for batch in active:
            real = batch["pixel_values"]
            real_labels = batch["labels"] if num_classes else None
            # labels and noise drawn for the whole global batch, this process's rows kept (any process count alike)
            size, rows = global_batch_rows(accelerator, len(real))
            fake_labels = None
            if num_classes:
                fake_labels = torch.randint(0, num_classes, (size,), device=real.device)[rows]

            # 4a. Discriminator, hinge loss: max(0, 1 - D(x)) + max(0, 1 + D(G(z)))
            latents = torch.randn(size, args.latent_dim, device=real.device)[rows]
            fake = generator(latents, fake_labels).sample.detach()
            real_logits = discriminator(real, real_labels).logits
            fake_logits = discriminator(fake, fake_labels).logits
            loss_d = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
            optimizer_d.zero_grad()  # also clears what the last generator step's backward left in D
            accelerator.backward(loss_d)
            optimizer_d.step()

            # 4b. Generator: -D(G(z)), on fresh noise (its backward passes through D; D's gradients are discarded)
            latents = torch.randn(size, args.latent_dim, device=real.device)[rows]
            optimizer_g.zero_grad()
            with accelerator.no_sync(discriminator):  # D's gradients are discarded: skip their all-reduce
                loss_g = -discriminator(generator(latents, fake_labels).sample, fake_labels).logits.mean()
                accelerator.backward(loss_g)
            optimizer_g.step()
            if ema is not None:
                ema.step(unwrap(accelerator, generator).parameters())

            sums += torch.stack([loss_d.detach(), loss_g.detach(), (fake_logits < 0).float().mean()])
            num_batches += 1
            # 4c. Count the step, checkpoint every --checkpointing_steps, stop after --max_train_steps.
            progress_bar.update(1)
            completed_steps += 1
            if isinstance(args.checkpointing_steps, int) and completed_steps % args.checkpointing_steps == 0:
                checkpoint(completed_steps, train_runtime=train_time + time.perf_counter() - start)
            if completed_steps >= max_train_steps:
                break
        device_synchronize(accelerator)
        train_time += time.perf_counter() - start

        means = accelerator.reduce(sums / max(num_batches, 1), "mean").tolist()
        metrics = {
            "loss_discriminator": means[0],
            "loss_generator": means[1],
            "d_accuracy_on_fakes": means[2],
            "epoch": epoch + 1,
        }
        logger.info(
            f"epoch {epoch + 1}: D loss {means[0]:.3f}, G loss {means[1]:.3f}, D accuracy on fakes {means[2]:.3f}"
        )
        history.append({**metrics, "step": completed_steps})
        accelerator.log(metrics, step=completed_steps)
        if accelerator.is_main_process:
            samples_dir.mkdir(parents=True, exist_ok=True)
            grid = sample_grid(unwrap(accelerator, generator), fixed_latents, fixed_labels)
            grid.save(samples_dir / f"step-{completed_steps}.png")
            if args.report_to == "tensorboard":
                writer = accelerator.get_tracker("tensorboard", unwrap=True)
                writer.add_image("samples", np.asarray(grid), completed_steps, dataformats="HW")
        if args.checkpointing_steps == "epoch":
            checkpoint(completed_steps, train_runtime=train_time)
        if completed_steps >= max_train_steps:
            break
    progress_bar.close()

    # 5. Save: the pipeline (the EMA generator and the discriminator), results and card.
    networks = [generator, discriminator]
    results = run_results(
        accelerator, networks, metrics, completed_steps, train_time, num_classes=num_classes, history=history
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final_generator = unwrap(accelerator, generator)
        if ema is not None:
            ema.copy_to(final_generator.parameters())  # the averaged weights are the ones to sample from
        final_generator.eval()
        # The discriminator travels with the pipeline: it scores images (`pipe.discriminate`) and training can go on.
        pipe = GanPipeline(generator=final_generator, discriminator=unwrap(accelerator, discriminator).eval())
        command = argv if argv is not None else sys.argv[1:]
        # The samples, the card and the results go in with the pipeline, in one swap; the judge's measurements,
        # taken next, are added to the card and the results after it.
        files = hub.run_files(results, build_model_card(args, results, final_generator, accelerator, command))
        files["samples.png"] = png_bytes(sample_grid(final_generator, fixed_latents, fixed_labels))
        save_pretrained_atomically(args.output_dir, pipe, files=files)
        if args.judge_model is not None:
            results["evaluation"] = judge_samples(pipe, args, num_classes, dataset, eval_raw, image_column)
        card = build_model_card(args, results, final_generator, accelerator, command)
        hub.publish_run(
            args.output_dir, results, card, args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo
        )
        accelerator.print(f"{completed_steps} steps; {judge_summary(results)}pipeline saved to {args.output_dir}")
    end_run(accelerator, generator, discriminator, optimizer_g, optimizer_d)
    return results


def judge_samples(pipe, args, num_classes: int, train_dataset, eval_raw, image_column) -> dict:
    """The judge's report on `--num_eval_samples` samples (an equal share per class) against real images."""
    count = args.num_eval_samples
    eval_raw = eval_raw.select(range(min(count, len(eval_raw))))
    real_test = decode_images(eval_raw, image_column, 1, args.resolution).float() / 255
    real_train = first_pixels(train_dataset, count).float() / 255
    return judge_pipeline(pipe, args.judge_model, count, num_classes, real_train, real_test, seed=args.seed)


def judge_summary(results: dict) -> str:
    """The judge's conditional accuracy for the run's last line ("" where the judge did not measure it)."""
    accuracy = results.get("evaluation", {}).get("conditional_accuracy")
    return "" if accuracy is None else f"conditional accuracy {accuracy:.4f}; "


def build_model_card(args, results, generator, accelerator, command: list[str]):
    """The model card, filled from this run's flags and measured metrics."""
    dataset_id = hub.card_dataset_id(args.dataset_name, args.card_dataset_id)
    results_table, eval_results = hub.generation_results(
        results.get("evaluation", {}), dataset_id, f"by the judge `{args.judge_model}`"
    )
    card_data = hub.card_data(
        "diffusers",
        "unconditional-image-generation",
        ["hfnets", "gan", "mnist", "class-conditional"],
        dataset_id,
        hub.default_repo_id(args.hub_model_id, args.output_dir),
        eval_results=eval_results,
    )
    return hub.render_model_card(
        "gan",
        card_data,
        repo_id=hub.default_repo_id(args.hub_model_id, args.output_dir),
        num_parameters=f"{generator.num_parameters():,}",
        latent_dim=args.latent_dim,
        dataset_id=dataset_id,
        ema_decay=args.ema_decay,
        results_table=results_table,
        steps=results["step"],
        epochs=results.get("epoch", 0),
        batch_size=args.per_device_train_batch_size * accelerator.num_processes,
        betas=f"({args.adam_beta1}, {args.adam_beta2})",
        learning_rate=args.learning_rate,
        discriminator_learning_rate=args.discriminator_learning_rate,
        seed=args.seed,
        hardware=describe_hardware(accelerator),
        train_runtime=f"{results['train_runtime']:.1f}",
        command=hub.training_command("scripts/train_gan.py", command),
    )


if __name__ == "__main__":
    run_main(main)
