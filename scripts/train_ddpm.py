#!/usr/bin/env python
"""Train a class-conditional DDPM (diffusers' UNet2DModel) with Accelerate: random timesteps, noise (or v)
prediction, label dropout for classifier-free guidance and an exponential moving average of the weights.

    accelerate launch scripts/train_ddpm.py --dataset_name ylecun/mnist --output_dir mnist-ddpm
    accelerate launch scripts/train_ddpm.py --output_dir mnist-ddpm --resume_from_checkpoint latest

It writes a `DdpmPipeline` (the EMA UNet and a `DDPMScheduler`, loadable with
`DiffusionPipeline.from_pretrained(..., trust_remote_code=True)`), sample grids in `samples/` and
`all_results.json`.
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
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler, UNet2DModel
from diffusers.training_utils import EMAModel, compute_snr
from torch.nn import functional as F

from hfnets import hub
from hfnets.ddpm import DdpmPipeline, check_resolution
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
from hfnets.training.optimization import build_lr_scheduler, build_optimizer, training_length
from hfnets.training.output_dir import prepare_output_dir, start_tracking
from hfnets.training.results import describe_hardware, run_results
from hfnets.training.run import end_run, run_main, training_progress_bar
from hfnets.training.sampling import image_grid, png_bytes

logger = get_logger(__name__)

PROJECT_NAME = "train_ddpm"
# Images are scaled to [-1, 1]: (x / 255 - 0.5) / 0.5. Padding uses -1, the background of a dark-background image.
PIXEL_MEAN, PIXEL_STD = 0.5, 0.5
# Each sample grid draws this many images per class with fixed noise, one row per class.
SAMPLES_PER_CLASS = 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets class-conditional DDPM with Accelerate.")
    add_training_args(
        parser,
        dataset_name="ylecun/mnist",
        learning_rate=2e-3,
        per_device_train_batch_size=128,
        num_train_epochs=9,
        lr_scheduler_type="cosine",
        evaluation_batches=False,  # judged on generated samples, not on batches of the evaluation split
    )
    parser.set_defaults(num_warmup_steps=250)
    data = add_image_args(parser)
    data.add_argument("--resolution", type=int, default=28, help="Image side; images of other sizes are resized.")
    data.add_argument(
        "--num_channels", type=int, default=1, choices=(1, 3), help="1 (grayscale) or 3 (RGB); images are converted."
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--block_out_channels",
        type=str,
        default="32,64",
        help="UNet widths, one per resolution level (comma-separated). Each level but the last halves the side; "
        "images are padded to a side the levels can take and cropped back on output.",
    )
    model.add_argument("--layers_per_block", type=int, default=2, help="ResNet layers in each UNet block.")
    model.add_argument(
        "--attention_levels",
        type=str,
        default="",
        help="Comma-separated levels (0 = full resolution) that get self-attention; the bottleneck always has it.",
    )
    model.add_argument("--unconditional", action="store_true", help="Ignore the labels: an unconditional DDPM.")
    diffusion = parser.add_argument_group("diffusion")
    diffusion.add_argument("--num_train_timesteps", type=int, default=1000, help="Diffusion steps.")
    diffusion.add_argument(
        "--beta_schedule",
        type=str,
        default="linear",
        choices=("linear", "scaled_linear", "squaredcos_cap_v2"),
        help="Noise schedule. DDPM's linear betas suit every sampler; with the cosine one (squaredcos_cap_v2) the "
        "last step's noise level is so extreme that DPM-Solver, Euler and DDIM draw noise at 25 steps.",
    )
    diffusion.add_argument(
        "--prediction_type",
        type=str,
        default="v_prediction",
        choices=("epsilon", "v_prediction"),
        help="UNet target. With v, the clean image is well conditioned at every noise level, so few-step samplers "
        "(DPM-Solver, Euler, DDIM) start well; with epsilon their first steps amplify its errors 150-fold.",
    )
    diffusion.add_argument(
        "--snr_gamma",
        type=float,
        default=None,
        help="Min-SNR loss weighting gamma (5 is the usual value; default: plain mean squared error).",
    )
    diffusion.add_argument(
        "--label_dropout",
        type=float,
        default=0.1,
        help="Share of labels replaced by the null class, which teaches the unconditional model guidance needs.",
    )
    diffusion.add_argument("--ema_decay", type=float, default=0.9995, help="Largest EMA decay (0: no EMA).")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--guidance_scale",
        type=float,
        default=1.2,
        help="Classifier-free guidance of the samples and the pipeline's default: 1 is none; higher draws clearer "
        "but more uniform digits (measurements in docs/results.md).",
    )
    evaluation.add_argument(
        "--num_inference_steps", type=int, default=25, help="DPM-Solver steps of the sample grids and the judge."
    )
    add_judge_args(evaluation)
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    try:
        args.block_out_channels = tuple(int(width) for width in args.block_out_channels.split(","))
        args.attention_levels = {int(level) for level in args.attention_levels.split(",") if level.strip()}
    except ValueError:
        parser.error("--block_out_channels and --attention_levels take comma-separated integers, e.g. 32,64.")
    if not args.block_out_channels or min(args.block_out_channels) < 8 or any(w % 8 for w in args.block_out_channels):
        parser.error(f"--block_out_channels must be multiples of 8, got {args.block_out_channels}.")
    if not args.attention_levels <= set(range(len(args.block_out_channels))):
        parser.error(f"--attention_levels must be among 0..{len(args.block_out_channels) - 1}.")
    if args.resolution < 1:
        parser.error(f"--resolution must be positive, got {args.resolution}.")
    if not 0.0 <= args.label_dropout < 1.0:
        parser.error(f"--label_dropout must be in [0, 1), got {args.label_dropout}.")
    if not 0.0 <= args.ema_decay < 1.0:
        parser.error(f"--ema_decay must be in [0, 1), got {args.ema_decay}.")
    if args.guidance_scale < 1 or (args.unconditional and args.guidance_scale != 1):
        parser.error("--guidance_scale must be >= 1, and 1 for an --unconditional model.")
    if not 1 <= args.num_inference_steps <= args.num_train_timesteps:
        parser.error(f"--num_inference_steps must lie in [1, {args.num_train_timesteps}].")
    return args


def build_unet(args, num_classes: int) -> UNet2DModel:
    """A UNet2DModel whose side fits its down blocks: the resolution, padded up to a multiple of 2^(levels - 1)."""
    levels = len(args.block_out_channels)
    factor = 2 ** (levels - 1)
    side = -(-args.resolution // factor) * factor
    down = tuple("AttnDownBlock2D" if level in args.attention_levels else "DownBlock2D" for level in range(levels))
    up = tuple("AttnUpBlock2D" if level in args.attention_levels else "UpBlock2D" for level in reversed(range(levels)))
    unet = UNet2DModel(
        sample_size=side,
        in_channels=args.num_channels,
        out_channels=args.num_channels,
        block_out_channels=args.block_out_channels,
        layers_per_block=args.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=8,
        attention_head_dim=None if not args.attention_levels else 32,
        # one embedding per class plus the null class of classifier-free guidance
        num_class_embeds=None if num_classes == 0 else num_classes + 1,
    )
    check_resolution(unet, side)
    return unet


def pad_to(images: torch.Tensor, side: int) -> torch.Tensor:
    """Pad (N, C, H, W) images in [-1, 1] with background (-1) to `side`, centred."""
    extra = side - images.shape[-1]
    if extra == 0:
        return images
    before = extra // 2
    return F.pad(images, (before, extra - before, before, extra - before), value=-1.0)


@torch.no_grad()
def sample_images(unet, scheduler, args, image_size: int, latents, labels) -> torch.Tensor:
    """Fixed-noise samples with the fast sampler, in [0, 1]."""
    pipe = DdpmPipeline(unet, DPMSolverMultistepScheduler.from_config(scheduler.config), image_size=image_size)
    pipe.set_progress_bar_config(disable=True)
    guidance = args.guidance_scale if labels is not None else 1.0
    output = pipe(
        class_labels=labels,
        batch_size=len(latents),
        latents=latents,
        guidance_scale=guidance,
        num_inference_steps=args.num_inference_steps,
        output_type="pt",
    )
    return output.images


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
    # Copied from scripts.train_mlp.main step 0 with train_mlp->train_ddpm
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
    check_distributed(accelerator, "scripts/train_ddpm.py", sharded_weights=False)

    # 1. Data: the images and their labels.
    # Copied from scripts.train_gan.main step 1 with GanPipeline->DdpmPipeline, NUM_CHANNELS->args.num_channels
    splits = load_image_splits(
        accelerator, seed=args.seed, **data_flags(args, IMAGE_DATA_FLAGS), labelled=not args.unconditional
    )
    train_raw, eval_raw, image_column, labels = splits.train, splits.eval, splits.image_column, splits.train_labels
    num_classes = len(splits.class_names)
    if num_classes:
        check_labels(labels, num_classes, "training")
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, DdpmPipeline.__name__, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))
    # decoded once into memory when the images fit --memory_budget, else batch by batch as they are read
    decode = functools.partial(pil_images_to_tensor, num_channels=args.num_channels, size=args.resolution)
    shape = (args.num_channels, args.resolution, args.resolution)
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

    # 2. The UNet, the noise schedule, the optimizer and its schedule.
    unet = build_unet(args, num_classes)
    side = unet.config.sample_size
    # The copy the sample grids and the saved pipeline use (built here, so no later draw from the RNG shifts it).
    sampling_unet = UNet2DModel.from_config(unet.config)
    noise_scheduler = DDPMScheduler(
        num_train_timesteps=args.num_train_timesteps,
        beta_schedule=args.beta_schedule,
        prediction_type=args.prediction_type,
        # sampling clips the predicted clean image to the pixel range [-1, 1]; DDIM and DPM-Solver made
        # `from_config` inherit it
        thresholding=True,
        sample_max_value=1.0,
    )
    optimizer = build_optimizer(accelerator, unet.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    unet, optimizer, dataloader = accelerator.prepare(unet, optimizer, dataloader)
    num_update_steps_per_epoch, max_train_steps, num_train_epochs = training_length(
        len(dataloader), args.gradient_accumulation_steps, args.max_train_steps, args.num_train_epochs
    )
    lr_scheduler = build_lr_scheduler(
        accelerator, optimizer, args.lr_scheduler_type, args.num_warmup_steps, max_train_steps
    )
    ema = None
    if args.ema_decay > 0:
        # warm-up: the decay grows from 0 towards --ema_decay, so early weights leave the average quickly
        ema = EMAModel(
            unwrap(accelerator, unet).parameters(),
            decay=args.ema_decay,
            use_ema_warmup=True,
            power=3 / 4,
            model_cls=UNet2DModel,
            model_config=unwrap(accelerator, unet).config,
        )
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)

    # 3. Resume: the UNet, the optimizer, its schedule, the EMA and the RNG states.
    # What a checkpoint must match to be resumed: the model's configuration and how the data is batched (with the
    # processes and the gradient accumulation steps, which resume_run adds).
    examples = example_count(dataset)
    batching = {"per_device_train_batch_size": args.per_device_train_batch_size, "train_samples": examples}
    resumed, checkpoint = resume_run(  # checkpoint(step, train_runtime=seconds): the weights are checked first
        accelerator,
        args.resume_from_checkpoint,
        [unet],
        batching,
        None if args.streaming else num_update_steps_per_epoch,  # a stream resumes from its saved position
    )
    completed_steps, starting_epoch = resumed.completed_steps, resumed.starting_epoch

    # Fixed noise and labels for the sample grids: the same digits at every evaluation show progress.
    fixed = torch.Generator().manual_seed(args.seed)
    grid_size = SAMPLES_PER_CLASS * max(num_classes, 1)
    fixed_latents = torch.randn(grid_size, args.num_channels, side, side, generator=fixed)
    fixed_labels = torch.arange(num_classes).repeat_interleave(SAMPLES_PER_CLASS) if num_classes else None
    samples_dir = Path(args.output_dir, "samples")

    logger.info("***** Running training *****")
    logger.info(f"  Images = {examples} at {args.resolution}px (UNet side {side}), classes = {num_classes}")
    logger.info(f"  UNet parameters = {unwrap(accelerator, unet).num_parameters():,}")
    logger.info(f"  Optimization steps = {max_train_steps}, epochs = {num_train_epochs}")
    progress_bar = training_progress_bar(accelerator, max_train_steps, completed_steps)

    # 4. The training loop: noise the images at random timesteps and learn to predict the noise (or v).
    train_time = resumed.train_runtime  # seconds trained before a resume count too
    metrics: dict[str, float] = {}
    history: list[dict[str, float]] = []
    for epoch in range(starting_epoch, num_train_epochs):
        unet.train()
        dataloader.set_epoch(epoch)
        active = dataloader
        if epoch == starting_epoch and resumed.batches_to_skip:
            active = accelerator.skip_first_batches(dataloader, resumed.batches_to_skip)
        loss_sum = torch.zeros((), device=accelerator.device)
        num_batches = 0
        start = time.perf_counter()
        for batch in active:
            # 4a. Noise the batch at random timesteps, predict the noise (or v), and step.
            with accelerator.accumulate(unet):
                clean = pad_to(batch["pixel_values"], side)
                # draws for the whole global batch, this process's rows kept: any process count trains alike
                size, rows = global_batch_rows(accelerator, len(clean))
                class_labels = None
                if num_classes:
                    # label dropout: the null class (the last embedding) teaches the unconditional prediction
                    dropped = torch.rand(size, device=clean.device)[rows] < args.label_dropout
                    class_labels = batch["labels"].masked_fill(dropped, num_classes)
                noise = torch.randn(size, *clean.shape[1:], device=clean.device)[rows]
                timesteps = torch.randint(0, args.num_train_timesteps, (size,), device=clean.device)[rows]
                noisy = noise_scheduler.add_noise(clean, noise, timesteps)
                prediction = unet(noisy, timesteps, class_labels=class_labels).sample.float()
                if args.prediction_type == "epsilon":
                    target = noise
                else:
                    target = noise_scheduler.get_velocity(clean, noise, timesteps)
                loss = F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))
                if args.snr_gamma is not None:
                    # Min-SNR weighting: easy, low-noise timesteps stop dominating the gradient
                    snr = compute_snr(noise_scheduler, timesteps)
                    weights = torch.clamp(snr, max=args.snr_gamma) / snr
                    if args.prediction_type == "v_prediction":
                        weights = torch.clamp(snr, max=args.snr_gamma) / (snr + 1)
                    loss = loss * weights
                loss = loss.mean()
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(unet.parameters(), 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            loss_sum += loss.detach()
            num_batches += 1
            if not accelerator.sync_gradients:
                continue
            if ema is not None:
                ema.step(unwrap(accelerator, unet).parameters())
            # 4b. Count the step, checkpoint every --checkpointing_steps, stop after --max_train_steps.
            # Copied from scripts.train_gan.main step 4c
            progress_bar.update(1)
            completed_steps += 1
            if isinstance(args.checkpointing_steps, int) and completed_steps % args.checkpointing_steps == 0:
                checkpoint(completed_steps, train_runtime=train_time + time.perf_counter() - start)
            if completed_steps >= max_train_steps:
                break
        device_synchronize(accelerator)
        train_time += time.perf_counter() - start

        mean_loss = accelerator.reduce(loss_sum / max(num_batches, 1), "mean").item()
        metrics = {"train_loss": mean_loss, "learning_rate": lr_scheduler.get_last_lr()[0], "epoch": epoch + 1}
        logger.info(f"epoch {epoch + 1}: train loss {mean_loss:.4f}")
        history.append({**metrics, "step": completed_steps})
        accelerator.log(metrics, step=completed_steps)
        if accelerator.is_main_process:
            samples_dir.mkdir(parents=True, exist_ok=True)
            grid = image_grid(
                sample_images(
                    inference_unet(unwrap(accelerator, unet), ema, sampling_unet),
                    noise_scheduler,
                    args,
                    args.resolution,
                    fixed_latents.to(accelerator.device),
                    fixed_labels,
                ),
                rows=max(num_classes, 1),
            )
            grid.save(samples_dir / f"step-{completed_steps}.png")
            if args.report_to == "tensorboard":
                writer = accelerator.get_tracker("tensorboard", unwrap=True)
                writer.add_image(
                    "samples", np.asarray(grid), completed_steps, dataformats="HWC" if grid.mode == "RGB" else "HW"
                )
        if args.checkpointing_steps == "epoch":
            checkpoint(completed_steps, train_runtime=train_time)
        if completed_steps >= max_train_steps:
            break
    progress_bar.close()

    # 5. Save: the pipeline with the EMA UNet and the training scheduler, results and card.
    results = run_results(
        accelerator, [unet], metrics, completed_steps, train_time, num_classes=num_classes, history=history
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final_unet = inference_unet(unwrap(accelerator, unet), ema, sampling_unet)
        pipe = DdpmPipeline(
            final_unet,
            noise_scheduler,
            image_size=args.resolution,
            guidance_scale=args.guidance_scale if num_classes else 1.0,
        )
        grid_images = sample_images(
            final_unet, noise_scheduler, args, args.resolution, fixed_latents.to(accelerator.device), fixed_labels
        )
        command = argv if argv is not None else sys.argv[1:]
        # The samples, the card and the results go in with the pipeline, in one swap; the judge's measurements,
        # taken next, are added to the card and the results after it.
        files = hub.run_files(results, build_model_card(args, results, final_unet, accelerator, command))
        files["samples.png"] = png_bytes(image_grid(grid_images, rows=max(num_classes, 1)))
        save_pretrained_atomically(args.output_dir, pipe, files=files)
        if args.judge_model is not None:
            results["evaluation"] = judge_samples(pipe, args, num_classes, dataset, eval_raw, image_column)
        card = build_model_card(args, results, final_unet, accelerator, command)
        hub.publish_run(
            args.output_dir, results, card, args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo
        )
        accelerator.print(f"{completed_steps} steps; {judge_summary(results)}pipeline saved to {args.output_dir}")
    end_run(accelerator, unet, optimizer)
    return results


def inference_unet(unet: UNet2DModel, ema: EMAModel | None, target: UNet2DModel) -> UNet2DModel:
    """The weights to sample from, copied into `target`: the EMA average (the training UNet stays as it is, and no
    mixed-precision wrapper of Accelerate's comes along)."""
    target.load_state_dict(unet.state_dict())
    if ema is not None:
        ema.copy_to(target.parameters())
    return target.to(unet.device).eval()


def judge_samples(pipe, args, num_classes: int, train_dataset, eval_raw, image_column) -> dict:
    """The judge's report on `--num_eval_samples` fast-sampler images (an equal share per class) against real ones."""
    count = args.num_eval_samples
    eval_raw = eval_raw.select(range(min(count, len(eval_raw))))
    real_test = decode_images(eval_raw, image_column, args.num_channels, args.resolution).float() / 255
    real_train = first_pixels(train_dataset, count).float() / 255
    fast = DdpmPipeline(
        pipe.unet,
        DPMSolverMultistepScheduler.from_config(pipe.scheduler.config),
        image_size=args.resolution,
        guidance_scale=pipe.config.guidance_scale,
    )
    report = judge_pipeline(
        fast,
        args.judge_model,
        count,
        num_classes,
        real_train,
        real_test,
        seed=args.seed,
        num_inference_steps=args.num_inference_steps,
    )
    return {**report, "sampler": f"DPMSolverMultistepScheduler, {args.num_inference_steps} steps"}


# Copied from scripts.train_gan.judge_summary
def judge_summary(results: dict) -> str:
    """The judge's conditional accuracy for the run's last line ("" where the judge did not measure it)."""
    accuracy = results.get("evaluation", {}).get("conditional_accuracy")
    return "" if accuracy is None else f"conditional accuracy {accuracy:.4f}; "


def build_model_card(args, results, unet, accelerator, command: list[str]):
    """The model card, filled from this run's flags and measured metrics."""
    dataset_id = hub.card_dataset_id(args.dataset_name, args.card_dataset_id)
    evaluation = results.get("evaluation", {})
    results_table, eval_results = hub.generation_results(
        evaluation,
        dataset_id,
        f"({evaluation.get('sampler')}, guidance {args.guidance_scale}) by the judge `{args.judge_model}`",
    )
    card_data = hub.card_data(
        "diffusers",
        "unconditional-image-generation",
        ["hfnets", "ddpm", "diffusion", "mnist", "class-conditional", "classifier-free-guidance"],
        dataset_id,
        hub.default_repo_id(args.hub_model_id, args.output_dir),
        eval_results=eval_results,
    )
    return hub.render_model_card(
        "ddpm",
        card_data,
        repo_id=hub.default_repo_id(args.hub_model_id, args.output_dir),
        num_parameters=f"{unet.num_parameters():,}",
        block_out_channels=", ".join(str(width) for width in args.block_out_channels),
        layers_per_block=args.layers_per_block,
        resolution=args.resolution,
        sample_size=unet.config.sample_size,
        num_train_timesteps=args.num_train_timesteps,
        beta_schedule=args.beta_schedule,
        prediction_type=args.prediction_type,
        label_dropout=args.label_dropout,
        guidance_scale=args.guidance_scale,
        num_inference_steps=args.num_inference_steps,
        dataset_id=dataset_id,
        ema_decay=args.ema_decay,
        results_table=results_table,
        steps=results["step"],
        epochs=results.get("epoch", 0),
        batch_size=args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type,
        mixed_precision=accelerator.mixed_precision,
        seed=args.seed,
        hardware=describe_hardware(accelerator),
        train_runtime=f"{results['train_runtime']:.1f}",
        command=hub.training_command("scripts/train_ddpm.py", command),
    )


if __name__ == "__main__":
    run_main(main)
