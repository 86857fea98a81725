"""Inside the diffusion, forwards: a drawn digit noised to any timestep by the scheduler, and what the model
recovers from it."""

import diffusers
import gradio as gr
import torch
from torch.nn import functional as F

from ..inputs import Refused, bounded, digit_pad, drawn_digit, parse_seed
from ..pictures import png_file
from .reverse import labelled_row, picture, schedule_chart
from .sample import label_of

FORWARD_SHOWN = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)  # the strip's timesteps, as fractions of the schedule


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
            raise Refused("Draw a digit and press *Noise my digit* first.")
        timestep = bounded(timestep, 0, last, f"Pick a timestep from 0 to {last}.")
        seed = parse_seed(seed)
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
        seed = parse_seed(seed)
        noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
        strip = []
        for fraction in FORWARD_SHOWN:
            t = min(round(fraction * (last + 1)), last)
            noisy = scheduler.add_noise(clean, noise, torch.tensor([t]))
            strip.append((f"t = {t}", picture(noisy[0], image_size, zoom=3)))
        return (clean, png_file(labelled_row(strip)), *show(clean, timestep, digit, seed))

    return start, show


def forward_section(pipe, processor, digit, seed) -> None:
    """The forward process's part of the inside view; `digit` and `seed` are the page's controls."""
    start_forward, show_forward = make_forward(pipe, processor)
    last = pipe.scheduler.config.num_train_timesteps - 1
    gr.Markdown(
        "### Forward: a digit drowned in noise\nTraining takes a real digit, adds noise of a random strength t "
        f"(0 to {last}, the schedule fixing how much of the digit is left) and teaches the network to find the "
        "noise. Draw a digit, then slide t. The digit and seed above choose the class the model is told and "
        "the noise."
    )
    clean = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            canvas = digit_pad("ddpm-canvas", 300)
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
