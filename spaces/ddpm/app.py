"""Handwritten digits from the class-conditional diffusion model, with the denoising shown as it happens, and inside
views: a drawn digit noised step by step (the forward process) and one image traced through the sampler.

Runs locally (`python spaces/ddpm/app.py`) and as a Hugging Face Space. The model comes from the environment
variable MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets;
it loads with `trust_remote_code=True`. Drawings are turned into MNIST-style digits by the image processor of
PROCESSOR_MODEL_ID (a Hub id or a local folder with an hfnets MNIST classifier), by default the shipped MLP.
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
import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F
from transformers import AutoImageProcessor

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-ddpm"
# The shipped classifier whose image processor prepares drawings (cropped, centred, 28x28, as MNIST's digits are).
SHIPPED_PROCESSOR = SHIPPED_MODEL.parent / "mnist-mlp"
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
FONT = ImageFont.load_default(13)


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


def label_of(digit, num_classes: int) -> int | None:
    """The page's digit as a class, or None for "random" (and for an unconditional model); a gr.Error otherwise."""
    if digit in (None, "", "random"):
        return None
    if not isinstance(digit, str) or not digit.isdigit() or int(digit) >= max(num_classes, 1):
        raise gr.Error(f"Pick a digit from 0 to {num_classes - 1}, or random.")
    return int(digit) if num_classes else None


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
    values = crop(sample, image_size).float()
    values = values / scale if scale else values
    pixels = ((values.clamp(-1, 1) + 1) * 127.5).round().byte()
    image = Image.fromarray(pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy())
    return image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)


def labelled_row(pictures: list[tuple[str, Image.Image]]) -> Image.Image:
    """Pictures side by side, each with its caption above (below a margin the image's own buttons can cover)."""
    widths = [max(image.width, round(FONT.getlength(caption)) + 8) for caption, image in pictures]
    width = sum(widths) + 16 * (len(pictures) + 1)
    height = max(image.height for _, image in pictures) + 60
    sheet = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(sheet)
    x = 16
    for (caption, image), slot in zip(pictures, widths, strict=True):
        pen.text((x, 32), caption, fill=(0, 0, 0), font=FONT)
        sheet.paste(image, (x, 52))
        x += slot + 16
    return sheet


def schedule_chart(scheduler, timestep: int, width: int = 420, height: int = 180) -> Image.Image:
    """The noise schedule against t: how much of the clean image is left in x_t (sqrt(alpha_bar_t), blue) and how
    much noise is in it (sqrt(1 - alpha_bar_t), orange), marked at `timestep`."""
    alpha_bar = scheduler.alphas_cumprod
    curves = ((alpha_bar.sqrt(), (8, 119, 189)), ((1 - alpha_bar).sqrt(), (245, 147, 34)))
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    left, top, bottom = 30, 40, height - 24

    def at(t: int, value: float) -> tuple[float, float]:
        return left + t / (len(alpha_bar) - 1) * (width - left - 10), top + (1 - value) * (bottom - top)

    x = at(timestep, 0)[0]
    pen.line([(x, top), (x, bottom)], fill=(160, 160, 160))
    for values, color in curves:
        pen.line([at(t, float(values[t])) for t in range(0, len(values), 5)], fill=color, width=2)
        y = at(timestep, float(values[timestep]))[1]
        pen.ellipse([x - 4, y - 4, x + 4, y + 4], fill=color)
    signal, noise = (float(values[timestep]) for values, _ in curves)
    pen.text((left, 2), f"image left: sqrt(alpha_bar_t) = {signal:.3f}", fill=curves[0][1], font=FONT)
    pen.text((left, 17), f"noise in it: sqrt(1 - alpha_bar_t) = {noise:.3f}", fill=curves[1][1], font=FONT)
    pen.text((left, bottom + 5), f"t = 0 ... {len(alpha_bar) - 1}; here t = {timestep}", fill=(60, 60, 60), font=FONT)
    return image


# ---------------------------------------------------------------------------------------------------------------
# The forward process: a drawn digit noised to any timestep, and what the model recovers from it

FORWARD_SHOWN = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)  # the strip's timesteps, as fractions of the schedule


# Copied from spaces.gan.app.load_processor
def load_processor(processor_id: str | None = None):
    """The image processor that prepares drawings, or None where there is none to load."""
    processor_id = processor_id or os.environ.get("PROCESSOR_MODEL_ID")
    if processor_id is None and (SHIPPED_PROCESSOR / "preprocessor_config.json").is_file():
        processor_id = str(SHIPPED_PROCESSOR)
    return AutoImageProcessor.from_pretrained(processor_id, trust_remote_code=True) if processor_id else None


# Copied from spaces.mnist-classifier.app.is_blank
def is_blank(image: np.ndarray) -> bool:
    """Nothing drawn: every pixel alike (a fresh canvas, transparent or white)."""
    flat = image.reshape(-1, image.shape[-1]) if image.ndim == 3 else image.reshape(-1, 1)
    return bool((flat == flat[0]).all())


# Copied from spaces.gan.app.drawn_digit
def drawn_digit(processor, sketch: dict | None, image_size: int) -> torch.Tensor:
    """A sketchpad's drawing as an MNIST-style digit, (1, 1, image_size, image_size) in [0, 1] with the ink at 1."""
    composite = None if sketch is None else sketch.get("composite")
    image = None if composite is None else np.asarray(composite)
    if image is None or image.size == 0 or is_blank(image):
        raise gr.Error("Draw a digit first.")
    if processor is None:
        raise gr.Error(
            "No image processor to read drawings with: set PROCESSOR_MODEL_ID to an hfnets MNIST classifier."
        )
    try:
        pixels = processor(image, do_normalize=False, return_tensors="pt")["pixel_values"].float()
    except ValueError as error:  # no digit in it: say so rather than guess
        raise gr.Error(str(error)) from None
    if pixels.shape[-1] != image_size:
        pixels = F.interpolate(pixels, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return pixels.clamp(0, 1)


def clean_sample(pipe, digit: torch.Tensor) -> torch.Tensor:
    """A digit (1, 1, image_size, image_size) in [0, 1] as the UNet's clean sample x0: [-1, 1], padded with the
    background (-1) to the UNet's side as the training script pads, and with as many channels as the UNet takes."""
    side, channels = pipe.unet.config.sample_size, pipe.unet.config.in_channels
    sample = digit * 2 - 1
    extra = side - sample.shape[-1]
    if extra > 0:
        before = extra // 2
        sample = F.pad(sample, (before, extra - before, before, extra - before), value=-1.0)
    return sample.expand(-1, channels, -1, -1)


@torch.no_grad()
def forward_process(pipe, scheduler, clean: torch.Tensor, timestep: int, seed: int, label: int | None) -> dict:
    """`clean` (1, C, S, S) noised to `timestep` by the scheduler's own `add_noise`,
    x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise (the noise drawn from `seed`), and the clean image the
    model recovers from x_t in one UNet pass (the scheduler's x0 estimate, for `label`, or no class when None)."""
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
    t = torch.tensor([timestep])
    noisy = scheduler.add_noise(clean, noise, t)
    labels = None
    if pipe.num_classes:
        labels = torch.tensor([pipe.num_classes if label is None else label])  # the last class embedding: no class
    prediction = pipe.unet(noisy, t, class_labels=labels).sample
    recovered = scheduler.step(prediction, timestep, noisy).pred_original_sample
    return {"noise": noise, "x_t": noisy, "x0": recovered}


def make_forward(pipe, processor):
    """The forward process's view: a drawing made the UNet's clean sample, then noised to a timestep."""
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size
    scheduler = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)  # its own: add_noise and the x0 estimate
    last = scheduler.config.num_train_timesteps - 1

    def show(clean: torch.Tensor | None, timestep: float, digit, seed):
        if clean is None:
            raise gr.Error("Draw a digit and press *Noise my digit* first.")
        timestep = bounded(timestep, 0, last, f"Pick a timestep from 0 to {last}.")
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        label = label_of(digit, num_classes)
        shown = forward_process(pipe, scheduler, clean, timestep, seed, label)
        noise_scale = float(shown["noise"].abs().max()) or 1.0
        row = labelled_row(
            [
                ("your digit, x0", picture(clean[0], image_size)),
                ("the noise added", picture(shown["noise"][0], image_size, scale=noise_scale)),
                (f"x_t (t = {timestep})", picture(shown["x_t"][0], image_size)),
                ("what the model recovers", picture(shown["x0"][0], image_size)),
            ]
        )
        signal = float(scheduler.alphas_cumprod[timestep].sqrt())
        note = (
            f"At t = {timestep}, x_t keeps {signal:.0%} of your digit's signal under noise of scale "
            f"{float((1 - scheduler.alphas_cumprod[timestep]).sqrt()):.2f}. Training shows the network such x_t and "
            "teaches it to see through the noise; the last picture is its guess of the clean digit from x_t alone"
            + (f", told the digit is a {label}." if label is not None else ", told no digit.")
        )
        return png_file(row), schedule_chart(scheduler, timestep), note

    def start(sketch, timestep, digit, seed):
        clean = clean_sample(pipe, drawn_digit(processor, sketch, image_size))
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
        strip = []
        for fraction in FORWARD_SHOWN:
            t = min(round(fraction * (last + 1)), last)
            noisy = scheduler.add_noise(clean, noise, torch.tensor([t]))
            strip.append((f"t = {t}", picture(noisy[0], image_size, zoom=3)))
        return (clean, png_file(labelled_row(strip)), *show(clean, timestep, digit, seed))

    return start, show


def make_inside(pipe, schedulers: dict, lock: threading.Lock):
    num_classes = pipe.num_classes or 0
    image_size = pipe.config.image_size or pipe.unet.config.sample_size

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
        label = label_of(digit, num_classes)
        guidance = bounded(guidance_scale, 1, 10, "Guidance runs from 1 (none) to 10.", whole=False)
        seed = bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")
        with lock:
            record = trace(pipe, schedulers["DDPM"], label, guidance, seed)
        return (record, gr.Slider(minimum=1, maximum=TRACE_STEPS, value=1, step=1), *show_step(record, 1))

    def compare(digit, seed):
        """Stream the comparison as it is drawn: the guidance row, then each sampler (DDPM's 250 steps last)."""
        label = label_of(digit, num_classes)
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


def inside_tab(pipe, schedulers, lock, digit, guidance, seed, processor) -> None:
    start, show_step, compare = make_inside(pipe, schedulers, lock)
    start_forward, show_forward = make_forward(pipe, processor)
    last = pipe.scheduler.config.num_train_timesteps - 1
    with gr.Accordion("Inside the diffusion: step by step", open=False, elem_id="ddpm-inside"):
        gr.Markdown(
            "### Forward: a digit drowned in noise\nTraining takes a real digit, adds noise of a random strength t "
            f"(0 to {last}, the schedule fixing how much of the digit is left) and teaches the network to find the "
            "noise. Draw a digit, then slide t. The digit and seed above choose the class the model is told and "
            "the noise."
        )
        clean = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                canvas = gr.Sketchpad(
                    label="Draw a digit",
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(300, 300),
                    elem_id="ddpm-canvas",
                )
                noise_button = gr.Button("Noise my digit", variant="primary", elem_id="noise-digit")
            with gr.Column(scale=2):
                timestep = gr.Slider(0, last, value=(last + 1) // 4, step=1, label="Timestep t", elem_id="noise-t")
                forward_note = gr.Markdown(elem_id="forward-note")
                with gr.Row():
                    forward_picture = gr.Image(show_label=False, type="filepath", scale=2, elem_id="forward-picture")
                    forward_schedule = gr.Image(show_label=False, format="png", scale=1, elem_id="forward-schedule")
        forward_strip = gr.Image(
            label="The same noise, stronger and stronger", type="filepath", height=150, elem_id="forward-strip"
        )
        noise_button.click(
            start_forward,
            [canvas, timestep, digit, seed],
            [clean, forward_strip, forward_picture, forward_schedule, forward_note],
            api_name="noise_digit",
        )
        timestep.change(
            show_forward,
            [clean, timestep, digit, seed],
            [forward_picture, forward_schedule, forward_note],
            api_name="noise_step",
        )
        gr.Markdown(
            "### Reverse: noise turned into a digit\nSampling runs the other way, from pure noise, in many small "
            "steps. Trace one image with the digit, guidance and seed above (DDPM's sampler, 50 steps), then slide "
            "through the steps: at each, the sample so far, the noise the network sees in it, and the clean digit "
            "that noise implies."
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


def build_demo(model_id: str | None = None, processor_id: str | None = None) -> gr.Blocks:
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
        inside_tab(pipe, schedulers, lock, digit, guidance, seed, load_processor(processor_id))
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=1, max_size=16).launch()
