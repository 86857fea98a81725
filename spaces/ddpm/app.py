"""Handwritten digits from the class-conditional diffusion model, with the denoising shown as it happens.

Runs locally (`python spaces/ddpm/app.py`) and as a Hugging Face Space. The model comes from the environment
variable MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets;
it loads with `trust_remote_code=True`.
"""

import hashlib
import io
import os
import queue
import tempfile
import threading
from pathlib import Path

import diffusers
import gradio as gr
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-ddpm"
# sampler -> (diffusers scheduler, default steps, most steps allowed)
SAMPLERS = {
    "DPM-Solver": ("DPMSolverMultistepScheduler", 25, 100),
    "DDIM": ("DDIMScheduler", 50, 250),
    "DDPM": ("DDPMScheduler", 1000, 1000),
}
MAX_IMAGES = 16
MAX_SEED = 2**31 - 1
PREVIEWS = 20  # intermediate images streamed per run, at most
ZOOM = 3


# Copied from spaces.mnist-classifier.app.shipped_model
def shipped_model() -> str | None:
    """The shipped model's folder, if it is here."""
    return (
        str(SHIPPED_MODEL)
        if (SHIPPED_MODEL / "config.json").is_file() or (SHIPPED_MODEL / "model_index.json").is_file()
        else None
    )


def load(model_id: str | None = None) -> DiffusionPipeline:
    model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
    if model_id is None:
        raise RuntimeError(
            "No model to show: set MODEL_ID to a Hub model id or a local folder (on a Space: a variable in its "
            "settings)."
        )
    pipe = DiffusionPipeline.from_pretrained(model_id, trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def to_grid(samples: torch.Tensor, image_size: int) -> Image.Image:
    """(N, C, H, W) samples in [-1, 1] (padded ones cropped to `image_size`) -> an enlarged grid, 4 per row."""
    images = ((samples[..., :image_size, :image_size].clamp(-1, 1) + 1) * 127.5).round().byte().cpu()
    pictures = [
        Image.fromarray(i.squeeze(0).numpy() if i.shape[0] == 1 else i.permute(1, 2, 0).numpy()) for i in images
    ]
    columns = min(len(pictures), 4)
    rows = -(-len(pictures) // columns)
    pictures += [Image.new(pictures[0].mode, pictures[0].size, 0)] * (rows * columns - len(pictures))
    grid = make_image_grid(pictures, rows, columns)
    return grid.resize((grid.width * ZOOM, grid.height * ZOOM), Image.NEAREST)


# Copied from spaces.mnist-classifier.app.png_file
def png_file(image: Image.Image) -> str:
    """`image` as a PNG file named by its content and written atomically: identical answers to concurrent users
    share one complete file (Gradio's cache rewrites a PIL output's file in place while another request reads it)."""
    data = io.BytesIO()
    image.save(data, format="PNG")
    path = Path(tempfile.gettempdir(), "hfnets-demos", hashlib.sha256(data.getvalue()).hexdigest() + ".png")
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        partial.write_bytes(data.getvalue())
        os.replace(partial, path)
    return str(path)


# Copied from spaces.gan.app.bounded
def bounded(value, low: float, high: float, message: str, whole: bool = True):
    """`value` as a number in [low, high] (a whole number where `whole`); anything else is a gr.Error with `message`
    (API callers can send strings, NaN, infinities or lists where the sliders send numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(message) from None
    if isinstance(value, bool) or not low <= number <= high or (whole and not number.is_integer()):
        raise gr.Error(message)
    return int(number) if whole else number


def make_sampler(pipe):
    schedulers = {
        name: getattr(diffusers, cls).from_config(pipe.scheduler.config) for name, (cls, _, _) in SAMPLERS.items()
    }
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size
    lock = threading.Lock()  # one scheduler object per sampler: runs take turns

    def check(digit, guidance_scale, sampler, steps, num_images, seed):
        """The inputs as checked numbers: (label or None, guidance, steps, count, seed); a gr.Error otherwise."""
        if not isinstance(sampler, str) or sampler not in SAMPLERS:
            raise gr.Error(f"Pick a sampler among {', '.join(SAMPLERS)}.")
        most = SAMPLERS[sampler][2]
        steps = bounded(steps, 1, most, f"{sampler} takes 1 to {most} steps.")
        count = bounded(num_images, 1, MAX_IMAGES, f"Ask for 1 to {MAX_IMAGES} images.")
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        guidance = bounded(guidance_scale, 1, 10, "Guidance runs from 1 (none) to 10.", whole=False)
        if digit in (None, "", "random"):
            label = None
        elif not isinstance(digit, str) or not digit.isdigit() or int(digit) >= max(num_classes, 1):
            raise gr.Error(f"Pick a digit from 0 to {num_classes - 1}, or random.")
        else:
            label = int(digit) if num_classes else None
        return label, guidance, steps, count, seed

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

        def run():
            try:
                with lock, torch.no_grad():
                    pipe.scheduler = schedulers[sampler]
                    result = pipe(
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
                raise gr.Error(f"Sampling failed: {value}")
            else:
                # output_type "pt" gives (N, C, H, W) in [0, 1]
                yield png_file(to_grid(value * 2 - 1, image_size)), f"done: {count} images, {sampler}, {steps} steps"
                return

    return sample


def build_demo(model_id: str | None = None) -> gr.Blocks:
    pipe = load(model_id)
    sample = make_sampler(pipe)
    num_classes = pipe.num_classes or 0
    choices = ["random"] + [str(d) for d in range(num_classes)]
    default_guidance = float(pipe.config.get("guidance_scale") or 1.0)
    with gr.Blocks(title="MNIST diffusion") as demo:
        gr.Markdown(
            "# Digits from a diffusion model\nA class-conditional DDPM (diffusers' UNet2DModel) with classifier-free "
            "guidance. Watch the noise turn into digits; DPM-Solver needs 25 steps where DDPM takes 1000."
        )
        with gr.Row():
            digit = gr.Dropdown(choices, value=choices[min(4, len(choices) - 1)], label="Digit")
            guidance = gr.Slider(1, 10, value=default_guidance, step=0.05, label="Guidance scale (1 = none)")
            sampler = gr.Dropdown(list(SAMPLERS), value="DPM-Solver", label="Sampler")
        with gr.Row():
            steps = gr.Slider(1, 1000, value=25, step=1, label="Steps")
            count = gr.Slider(1, MAX_IMAGES, value=8, step=1, label="Images")
            seed = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
        button = gr.Button("Generate", variant="primary", elem_id="generate")
        output = gr.Image(label="Samples", type="filepath", height=420, elem_id="samples")
        status = gr.Textbox(label="Status", interactive=False, elem_id="status")
        sampler.change(lambda name: gr.Slider(maximum=SAMPLERS[name][2], value=SAMPLERS[name][1]), sampler, steps)
        gr.Examples(
            [["3", default_guidance, "DPM-Solver", 25, 8, 0], ["random", 1.0, "DDIM", 50, 8, 1]],
            inputs=[digit, guidance, sampler, steps, count, seed],
        )
        button.click(sample, [digit, guidance, sampler, steps, count, seed], [output, status], api_name="generate")
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=1, max_size=16).launch()
