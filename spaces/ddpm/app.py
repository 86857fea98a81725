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
import time
from pathlib import Path

import diffusers
import gradio as gr
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image, ImageDraw

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


def make_schedulers(pipe) -> dict:
    """One scheduler object per sampler, made from the pipeline's own configuration."""
    return {name: getattr(diffusers, cls).from_config(pipe.scheduler.config) for name, (cls, _, _) in SAMPLERS.items()}


def make_sampler(pipe, schedulers: dict, lock: threading.Lock):
    """`lock`: the pipeline's scheduler is swapped per run, so runs (and the inside view's) take turns."""
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size

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


# ---------------------------------------------------------------------------------------------------------------
# Inside the diffusion: each step's sample, predicted noise and predicted clean image; guidance and samplers compared

TRACE_STEPS = 50  # the traced run: DDPM's sampler over 50 of its 1000 timesteps
GUIDANCE_SCALES = (1.0, 1.5, 3.0, 6.0)
COMPARED = (("DPM-Solver", 25), ("DDPM", 250))


@torch.no_grad()
def trace(pipe, scheduler, label: int | None, guidance_scale: float, seed: int, steps: int = TRACE_STEPS) -> dict:
    """One image denoised step by step, from the pipeline's step callback: for each step its timestep, the sample it
    starts from (x_t), the noise the UNet predicts in it and the clean image the scheduler estimates from that
    prediction (x0). Under v-prediction the noise is recovered as eps = sqrt(a) v + sqrt(1 - a) x_t."""
    pipe.scheduler = scheduler
    side = pipe.unet.config.sample_size
    start = torch.randn(1, pipe.unet.config.in_channels, side, side, generator=torch.Generator().manual_seed(seed))
    record = {"timesteps": [], "x_t": [], "noise": [], "x0": []}
    current = [start * scheduler.init_noise_sigma]
    prediction_type = scheduler.config.prediction_type

    def on_step(pipeline, step, timestep, tensors):
        x_t, alpha = current[0], scheduler.alphas_cumprod[int(timestep)]
        noise = tensors["noise_pred"]
        if prediction_type == "v_prediction":
            noise = alpha.sqrt() * noise + (1 - alpha).sqrt() * x_t
        elif prediction_type == "sample":
            noise = (x_t - alpha.sqrt() * noise) / (1 - alpha).sqrt()
        record["timesteps"].append(int(timestep))
        for name, tensor in (("x_t", x_t), ("noise", noise), ("x0", tensors["pred_original_sample"])):
            record[name].append(tensor[0].detach().clone())
        current[0] = tensors["latents"]
        return tensors

    pipe(
        class_labels=label,
        guidance_scale=guidance_scale if label is not None else 1.0,
        num_inference_steps=steps,
        latents=start,
        output_type="latent",
        callback_on_step_end=on_step,
        callback_on_step_end_tensor_inputs=["latents", "noise_pred", "pred_original_sample"],
    )
    return record


def picture(sample: torch.Tensor, image_size: int, zoom: int = 5, scale: float | None = None) -> Image.Image:
    """One (C, H, W) sample as an enlarged picture: [-1, 1] to black..white, or +-`scale` when given (noise)."""
    values = sample[..., :image_size, :image_size].float()
    values = values / scale if scale else values
    pixels = ((values.clamp(-1, 1) + 1) * 127.5).round().byte()
    image = Image.fromarray(pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy())
    return image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)


def labelled_row(pictures: list[tuple[str, Image.Image]]) -> Image.Image:
    """Pictures side by side, each with its caption above."""
    width = sum(image.width for _, image in pictures) + 16 * (len(pictures) + 1)
    height = max(image.height for _, image in pictures) + 34
    sheet = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(sheet)
    x = 16
    for caption, image in pictures:
        pen.text((x, 6), caption, fill=(0, 0, 0))
        sheet.paste(image, (x, 26))
        x += image.width + 16
    return sheet


def schedule_chart(scheduler, timestep: int, width: int = 420, height: int = 160) -> Image.Image:
    """The noise schedule: how much of the clean image is left in x_t (sqrt(alpha_bar_t)) against t, marked at t."""
    alphas = scheduler.alphas_cumprod.sqrt()
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    left, bottom = 30, height - 22

    def at(t: int, value: float) -> tuple[float, float]:
        return left + t / (len(alphas) - 1) * (width - left - 10), 10 + (1 - value) * (bottom - 10)

    pen.line([at(t, float(alphas[t])) for t in range(0, len(alphas), 5)], fill=(8, 119, 189), width=2)
    x, y = at(timestep, float(alphas[timestep]))
    pen.line([(x, 10), (x, bottom)], fill=(245, 147, 34))
    pen.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(245, 147, 34))
    pen.text((left, bottom + 6), f"t = 0 ... {len(alphas) - 1}; here t = {timestep}", fill=(60, 60, 60))
    pen.text((left + 4, 12), f"signal left: sqrt(alpha_bar_t) = {float(alphas[timestep]):.3f}", fill=(60, 60, 60))
    return image


def make_inside(pipe, schedulers: dict, lock: threading.Lock):
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size

    def label_of(digit) -> int | None:
        if not num_classes or digit in (None, "", "random"):
            return None
        if not isinstance(digit, str) or not digit.isdigit() or int(digit) >= num_classes:
            raise gr.Error(f"Pick a digit from 0 to {num_classes - 1}, or random.")
        return int(digit)

    def show_step(record: dict | None, step: float):
        if not record:
            raise gr.Error("Press *Trace the denoising* first.")
        step = bounded(step, 1, len(record["timesteps"]), f"Pick a step from 1 to {len(record['timesteps'])}.")
        index, timestep = step - 1, record["timesteps"][step - 1]
        noise_scale = float(record["noise"][index].abs().max()) or 1.0
        row = labelled_row(
            [
                (f"x_t (t = {timestep})", picture(record["x_t"][index], image_size)),
                ("predicted noise", picture(record["noise"][index], image_size, scale=noise_scale)),
                ("predicted clean image x0", picture(record["x0"][index], image_size)),
            ]
        )
        note = (
            f"Step {step} of {len(record['timesteps'])}: the UNet looks at x_t and predicts the noise in it; "
            "removing that noise gives its guess of the clean digit, x0. The step keeps some of that guess and adds "
            "a little fresh noise, giving the next x_t."
        )
        return row, schedule_chart(schedulers["DDPM"], timestep), note

    def start(digit, guidance_scale, seed):
        label = label_of(digit)
        guidance = bounded(guidance_scale, 1, 10, "Guidance runs from 1 (none) to 10.", whole=False)
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        with lock:
            record = trace(pipe, schedulers["DDPM"], label, guidance, seed)
        return (record, gr.Slider(minimum=1, maximum=TRACE_STEPS, value=1, step=1), *show_step(record, 1))

    def compare(digit, seed):
        """Stream the comparison as it is drawn: the guidance row, then each sampler (DDPM's 250 steps last)."""
        label = label_of(digit)
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        if label is None:
            raise gr.Error("Guidance needs a digit: pick one.")

        def draw(name: str, steps: int, scale: float | None = None) -> torch.Tensor:
            pipe.scheduler = schedulers[name]
            return pipe(
                class_labels=label,
                guidance_scale=scale,
                num_inference_steps=steps,
                output_type="latent",
                generator=torch.Generator().manual_seed(seed),
            ).images[0]

        guided, samplers = [], []
        with lock, torch.no_grad():
            for scale in GUIDANCE_SCALES:
                caption = f"guidance {scale:g}" + (" (none)" if scale == 1 else "")
                guided.append((caption, picture(draw("DPM-Solver", 25, scale), image_size)))
            yield labelled_row(guided), None, "Guidance done; now the samplers (DDPM's 250 steps take longest)."
            for name, steps in COMPARED:
                started = time.perf_counter()
                image = draw(name, steps)
                caption = f"{name}, {steps} steps: {time.perf_counter() - started:.1f} s"
                samplers.append((caption, picture(image, image_size)))
                status = "Done." if len(samplers) == len(COMPARED) else f"{caption}; now the next sampler."
                yield labelled_row(guided), labelled_row(samplers), status

    return start, show_step, compare


def inside_tab(pipe, schedulers, lock, digit, guidance, seed) -> None:
    start, show_step, compare = make_inside(pipe, schedulers, lock)
    with gr.Accordion("Inside the diffusion: step by step", open=False, elem_id="ddpm-inside"):
        gr.Markdown(
            "Diffusion turns noise into a digit in many small steps. Trace one image with the digit, guidance and "
            "seed above (DDPM's sampler, 50 steps), then slide through the steps: at each, the sample so far, the "
            "noise the network sees in it, and the clean digit that noise implies."
        )
        record = gr.State(None)
        with gr.Row():
            trace_button = gr.Button("Trace the denoising", variant="primary", elem_id="trace")
            compare_button = gr.Button("Compare guidance and samplers", elem_id="compare-ddpm")
        step = gr.Slider(1, TRACE_STEPS, value=1, step=1, label="Step", elem_id="trace-step")
        note = gr.Markdown(elem_id="trace-note")
        with gr.Row():
            step_picture = gr.Image(show_label=False, format="png", elem_id="trace-picture")
            schedule = gr.Image(show_label=False, format="png", elem_id="schedule")
        guided = gr.Image(label="The same seed, unguided to strongly guided", format="png", elem_id="guided")
        samplers = gr.Image(label="Two samplers, the same seed", format="png", elem_id="samplers")
        trace_button.click(
            start, [digit, guidance, seed], [record, step, step_picture, schedule, note], api_name="trace"
        )
        step.change(show_step, [record, step], [step_picture, schedule, note], api_name="trace_step")
        compare_status = gr.Markdown(elem_id="compare-status")
        compare_button.click(compare, [digit, seed], [guided, samplers, compare_status], api_name="compare")


def build_demo(model_id: str | None = None) -> gr.Blocks:
    pipe = load(model_id)
    schedulers, lock = make_schedulers(pipe), threading.Lock()
    sample = make_sampler(pipe, schedulers, lock)
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
        inside_tab(pipe, schedulers, lock, digit, guidance, seed)
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=1, max_size=16).launch()
