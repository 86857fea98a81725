"""Inside the diffusion, backwards: one image traced step by step through the sampler (x_t, the predicted noise,
the predicted clean image), the same seed at growing guidance, and two samplers compared."""

import time

import diffusers
import gradio as gr
import torch
from PIL import Image, ImageDraw, ImageFont

from ..inputs import Refused, bounded, parse_seed
from ..lanes import LongRunLane
from .sample import crop, label_of, pipeline_with

TRACE_STEPS = 50  # the traced run: DDPM's sampler over 50 of its 1000 timesteps
FRAME_SECONDS = 0.2  # the denoising played as an animation: a step every FRAME_SECONDS
GUIDANCE_SCALES = (1.0, 1.5, 3.0, 6.0)
COMPARED = (("DPM-Solver", 25), ("DDPM", 250))
FONT = ImageFont.load_default(13)


@torch.no_grad()
def trace(pipe, label: int | None, guidance_scale: float, seed: int, steps: int = TRACE_STEPS) -> dict:
    """One image denoised step by step, from the pipeline's step callback: for each step its timestep, the sample it
    starts from (x_t), the noise the UNet predicts in it and the clean image the scheduler estimates from that
    prediction (x0). Under v-prediction the noise is recovered as eps = sqrt(a) v + sqrt(1 - a) x_t."""
    pipe = pipeline_with(pipe, "DDPM")
    scheduler = pipe.scheduler
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


def make_inside(pipe, lane: LongRunLane):
    """The reverse process's views; the comparison of samplers (some 400 UNet passes) takes its turn in `lane`."""
    num_classes = pipe.num_classes or 0
    chart_scheduler = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)  # read only: its schedule
    image_size = pipe.config.image_size or pipe.unet.config.sample_size

    def show_step(record: dict | None, step: float):
        if not record:
            raise Refused("Press *Trace the denoising* first.")
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
        return row, schedule_chart(chart_scheduler, timestep), note

    def start(digit, guidance_scale, seed):
        label = label_of(digit, num_classes)
        guidance = bounded(guidance_scale, 1, 10, "Guidance runs from 1 to 10.", whole=False)
        seed = parse_seed(seed)
        record = trace(pipe, label, guidance, seed)
        return (record, gr.Slider(minimum=1, maximum=TRACE_STEPS, value=1, step=1), *show_step(record, 1))

    def compare(digit, seed):
        """Stream the comparison as it is drawn: the guidance row, then each sampler (DDPM's 250 steps last)."""
        label = label_of(digit, num_classes)
        seed = parse_seed(seed)
        if label is None:
            raise Refused("Guidance needs a digit: pick one.")

        def draw(name: str, steps: int, scale: float | None = None) -> torch.Tensor:
            return pipeline_with(pipe, name)(
                class_labels=label,
                guidance_scale=scale,
                num_inference_steps=steps,
                output_type="latent",
                generator=torch.Generator().manual_seed(seed),
            ).images[0]

        guided, samplers = [], []
        with lane, torch.no_grad():
            for scale in GUIDANCE_SCALES:
                caption = f"guidance {scale:g}" + (" (no extra push)" if scale == 1 else "")
                guided.append((caption, picture(draw("DPM-Solver", 25, scale), image_size)))
            yield labelled_row(guided), None, "Guidance done; now the samplers (DDPM's 250 steps take longest)."
            for name, steps in COMPARED:
                started = time.perf_counter()
                image = draw(name, steps)
                caption = f"{name}, {steps} steps: {time.perf_counter() - started:.1f} s"
                samplers.append((caption, picture(image, image_size)))
                status = "Done." if len(samplers) == len(COMPARED) else f"{caption}; now the next sampler."
                yield labelled_row(guided), labelled_row(samplers), status

    def play(record: dict | None, step: float):
        """Move the step slider on, one denoising step a frame, from where it is to the last (the slider's change
        draws each step); from the last, start again at the first."""
        if not record:
            raise Refused("Press *Trace the denoising* first.")
        last = len(record["timesteps"])
        current = bounded(step, 1, last, f"Pick a step from 1 to {last}.")
        for frame in range(1 if current >= last else current + 1, last + 1):
            yield frame
            time.sleep(FRAME_SECONDS)

    return start, show_step, compare, play


def reverse_section(pipe, lane: LongRunLane, digit, guidance, seed) -> None:
    """The reverse process's part of the inside view; `digit`, `guidance` and `seed` are the page's controls."""
    start, show_step, compare, play = make_inside(pipe, lane)
    gr.Markdown(
        "### Reverse: noise turned into a digit\nSampling runs the other way, from pure noise, in many small "
        "steps. Trace one image with the digit, guidance and seed above (DDPM's sampler, 50 steps), then play it "
        "(pause on any step) or slide through the steps: at each, the sample so far, the noise the network sees in "
        "it, and the clean digit that noise implies."
    )
    record = gr.State(None)
    with gr.Row():
        trace_button = gr.Button("Trace the denoising", variant="primary", elem_id="trace")
        compare_button = gr.Button("Compare guidance and samplers", elem_id="compare-ddpm")
    with gr.Row():
        step = gr.Slider(1, TRACE_STEPS, value=1, step=1, label="Step", elem_id="trace-step", scale=4)
        play_button = gr.Button("Play", elem_id="play-denoising", scale=1)
        pause_button = gr.Button("Pause", elem_id="pause-denoising", scale=1)
    note = gr.Markdown(elem_id="trace-note")
    with gr.Row():
        step_picture = gr.Image(show_label=False, format="png", elem_id="trace-picture")
        schedule = gr.Image(show_label=False, format="png", elem_id="schedule")
    guided = gr.Image(label="The same seed, unguided to strongly guided", format="png", elem_id="guided")
    samplers = gr.Image(label="Two samplers, the same seed", format="png", elem_id="samplers")
    trace_button.click(
        start,
        [digit, guidance, seed],
        [record, step, step_picture, schedule, note],
        api_name="trace",
        preprocess=False,
    )
    step.change(show_step, [record, step], [step_picture, schedule, note], api_name="trace_step")
    playing = play_button.click(play, [record, step], step, api_name="play_denoising", preprocess=False)
    pause_button.click(None, None, None, cancels=[playing], api_name=False)
    compare_status = gr.Markdown(elem_id="compare-status")
    compare_button.click(
        compare, [digit, seed], [guided, samplers, compare_status], api_name="compare", preprocess=False
    )
