"""The diffusion model's sampling, streamed: previews of the denoising as it happens, then the samples."""

import queue
import threading

import diffusers
import gradio as gr
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image

from ..inputs import Refused, bounded, parse_seed
from ..lanes import LongRunLane
from ..pictures import png_file

# sampler -> (diffusers scheduler, default steps, most steps allowed)
SAMPLERS = {
    "DPM-Solver": ("DPMSolverMultistepScheduler", 25, 100),
    "DDIM": ("DDIMScheduler", 50, 250),
    "DDPM": ("DDPMScheduler", 250, 1000),
}
# what choosing a sampler means for the steps, said beside them when it is chosen
SAMPLER_NOTES = {
    "DPM-Solver": "DPM-Solver: 25 steps (a higher-order solver of the reverse process) make clean digits.",
    "DDIM": "DDIM: 50 deterministic steps skip through the 1000 timesteps the model was trained on.",
    "DDPM": "DDPM, the original sampler: each step is one of its 1000 timesteps, with fresh noise added; 250 of "
    "them are set (the full 1000 take four times as long, one UNet pass per image per step).",
}
MAX_IMAGES = 16
# A run of more image-steps than this (steps x images; 25 DPM-Solver steps x 16 images is 400) is a long one: it
# takes its turn in the long-run lane, so that quick runs never wait behind it.
LONG_RUN_COST = 800
PREVIEWS = 20  # intermediate images streamed per run, at most
ZOOM = 3


def load(model_id: str) -> DiffusionPipeline:
    pipe = DiffusionPipeline.from_pretrained(model_id, trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def crop(samples: torch.Tensor, image_size: int) -> torch.Tensor:
    """The centre `image_size` square of UNet-sized samples: the padding the training script added cut away."""
    margin = (samples.shape[-1] - image_size) // 2
    return samples[..., margin : margin + image_size, margin : margin + image_size]


def to_grid(samples: torch.Tensor, image_size: int) -> Image.Image:
    """(N, C, H, W) samples in [-1, 1] (padded ones cropped to `image_size`) -> an enlarged grid, 4 per row."""
    images = ((crop(samples, image_size).clamp(-1, 1) + 1) * 127.5).round().byte().cpu()
    pictures = [
        Image.fromarray(i.squeeze(0).numpy() if i.shape[0] == 1 else i.permute(1, 2, 0).numpy()) for i in images
    ]
    columns = min(len(pictures), 4)
    rows = -(-len(pictures) // columns)
    pictures += [Image.new(pictures[0].mode, pictures[0].size, 0)] * (rows * columns - len(pictures))
    grid = make_image_grid(pictures, rows, columns)
    return grid.resize((grid.width * ZOOM, grid.height * ZOOM), Image.NEAREST)


def label_of(digit, num_classes: int) -> int | None:
    """The page's digit as a class, or None for "random" (and for an unconditional model); a gr.Error otherwise."""
    if digit in (None, "", "random"):
        return None
    if not isinstance(digit, str) or not digit.isdigit() or int(digit) >= max(num_classes, 1):
        raise Refused(f"Pick a digit from 0 to {num_classes - 1}, or random.")
    return int(digit) if num_classes else None


def pipeline_with(pipe, sampler: str):
    """A pipeline that shares `pipe`'s UNet and has a new scheduler of its own, for one run: runs at the same time
    (and the inside view's) then never swap each other's scheduler."""
    scheduler = getattr(diffusers, SAMPLERS[sampler][0]).from_config(pipe.scheduler.config)
    guidance_scale = pipe.config.get("guidance_scale") or 1.0
    run = type(pipe)(pipe.unet, scheduler, image_size=pipe.config.get("image_size"), guidance_scale=guidance_scale)
    run.set_progress_bar_config(disable=True)
    return run


def make_sampler(pipe, lane: LongRunLane):
    """Runs go at once, each with its own scheduler; a long one (more than LONG_RUN_COST image-steps) takes its turn
    in `lane`."""
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size

    def check(digit, guidance_scale, sampler, steps, num_images, seed):
        """The inputs as checked numbers: (label or None, guidance, steps, count, seed); a gr.Error otherwise."""
        if not isinstance(sampler, str) or sampler not in SAMPLERS:
            raise Refused(f"Pick a sampler among {', '.join(SAMPLERS)}.")
        most = SAMPLERS[sampler][2]
        steps = bounded(steps, 1, most, f"{sampler} takes 1 to {most} steps.")
        count = bounded(num_images, 1, MAX_IMAGES, f"Ask for 1 to {MAX_IMAGES} images.")
        seed = parse_seed(seed)
        guidance = bounded(guidance_scale, 1, 10, "Guidance runs from 1 to 10.", whole=False)
        return label_of(digit, num_classes), guidance, steps, count, seed

    def sample(digit, guidance_scale, sampler, steps, num_images, seed, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        """Stream (preview grid, status) while denoising; the last one is the result."""
        label, guidance_scale, steps, count, seed = check(digit, guidance_scale, sampler, steps, num_images, seed)
        updates: queue.Queue = queue.Queue()
        every = max(1, steps // PREVIEWS)

        def on_step(pipeline, step, timestep, tensors):
            updates.put(("step", step + 1))
            if (step + 1) % every == 0 and step + 1 < steps:
                updates.put(("preview", (step + 1, tensors["latents"].detach().clone())))
            return tensors

        long_run = steps * count > LONG_RUN_COST
        if long_run:
            lane.enter()  # a gr.Error at once where the lane is full; left when the run ends, below

        def run():
            try:
                with torch.no_grad():
                    result = pipeline_with(pipe, sampler)(
                        batch_size=count,
                        class_labels=label,
                        guidance_scale=guidance_scale if num_classes else 1.0,
                        num_inference_steps=steps,
                        generator=torch.Generator().manual_seed(seed),
                        output_type="pt",
                        callback_on_step_end=on_step,
                    )
                updates.put(("done", result.images))
            except Exception as error:  # reported to the user below, not lost in a thread
                updates.put(("error", error))
            finally:
                if long_run:
                    lane.leave()

        threading.Thread(target=run, daemon=True).start()
        progress(0, desc=f"{sampler}, {steps} steps")
        while True:
            kind, value = updates.get()
            if kind == "step":
                progress((value, steps), desc=f"{sampler}, step {value} of {steps}")
            elif kind == "preview":
                step, latents = value
                yield png_file(to_grid(latents, image_size)), f"step {step} of {steps}"
            elif kind == "error":
                raise Refused(f"Sampling failed: {value}")
            else:
                # output_type "pt" gives (N, C, H, W) in [0, 1]
                images = f"{count} image" + ("s" if count > 1 else "")
                yield png_file(to_grid(value * 2 - 1, image_size)), f"done: {images}, {sampler}, {steps} steps"
                return

    return sample
