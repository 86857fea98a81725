"""A GAN trained live in the page, as GAN Lab shows one: a generator learning to place points where a
two-dimensional distribution's points are, a discriminator scoring the plane, and both moving step by step. The
recipe is the hfnets GAN's (hinge loss, spectral normalization on the discriminator, Adam with beta1 = 0), on
small MLPs sized for points rather than images."""

import threading
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ..inputs import Refused
from ..pictures import png_file

DISTRIBUTIONS = ["ring of 8", "circle", "two lines"]
SPAN = 2.0  # the plane drawn runs from -SPAN to SPAN
BATCH = 128
SHOWN = 300  # generated points drawn (from the same noise every frame)
STEPS_PER_FRAME = 20
PLAY_STEPS = 3000  # one press of Play trains at most this many steps (a page left open does not train for ever)
FRAME_PAUSE = 0.05
SIZE = 420
FONT = ImageFont.load_default(size=13)
NEGATIVE, POSITIVE = np.array([245, 147, 34]), np.array([8, 119, 189])
FAKE = (200, 30, 120)


def real_points(name: str, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` points of the distribution `name`."""
    if name == "ring of 8":
        centre = torch.randint(0, 8, (count,), generator=generator) * (2 * np.pi / 8)
        points = 1.4 * torch.stack([centre.cos(), centre.sin()], 1)
        return points + 0.08 * torch.randn(count, 2, generator=generator)
    if name == "circle":
        angle = torch.rand(count, generator=generator) * 2 * np.pi
        return 1.2 * torch.stack([angle.cos(), angle.sin()], 1) + 0.04 * torch.randn(count, 2, generator=generator)
    if name == "two lines":
        x = torch.rand(count, generator=generator) * 2.4 - 1.2
        side = torch.randint(0, 2, (count,), generator=generator) * 1.6 - 0.8
        return torch.stack([x, side], 1) + 0.04 * torch.randn(count, 2, generator=generator)
    raise Refused(f"Choose a distribution among {DISTRIBUTIONS}.")


def mlp(inputs: int, outputs: int, width: int = 64, norm=lambda layer: layer) -> nn.Sequential:
    return nn.Sequential(
        norm(nn.Linear(inputs, width)),
        nn.LeakyReLU(0.2),
        norm(nn.Linear(width, width)),
        nn.LeakyReLU(0.2),
        norm(nn.Linear(width, outputs)),
    )


class LiveGan:
    """One visitor's GAN on `distribution`: a generator from 2-D noise to points, a discriminator from points to a
    score (above 0: looks real), trained a step at a time."""

    def __init__(self, distribution: str, seed: int = 0):
        self.distribution = distribution
        self.random = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.generator = mlp(2, 2)
            self.discriminator = mlp(2, 1, norm=spectral_norm)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=1e-3, betas=(0.0, 0.9))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-3, betas=(0.0, 0.9))
        self.noise = torch.randn(SHOWN, 2, generator=self.random)  # the same noise drawn every frame
        self.steps, self.history = 0, []
        self.pause = threading.Event()  # set: Play stops after the frame under way
        self.playing = False

    def step(self) -> None:
        """One discriminator step (hinge loss: push real scores above +1, fakes below -1), then one generator step
        (raise the discriminator's score of its points)."""
        real = real_points(self.distribution, BATCH, self.random)
        fake = self.generator(torch.randn(BATCH, 2, generator=self.random))
        real_scores, fake_scores = self.discriminator(real), self.discriminator(fake.detach())
        loss_d = F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        loss_g = -self.discriminator(self.generator(torch.randn(BATCH, 2, generator=self.random))).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.steps += 1
        caught = float((fake_scores < 0).float().mean())
        self.history.append({"step": self.steps, "loss_d": loss_d.item(), "loss_g": loss_g.item(), "caught": caught})

    def view(self) -> dict:
        """What the picture shows: the discriminator's score over the plane, the generator's points from the fixed
        noise, and at each the direction that raises its score (where the generator is pushed)."""
        axis = torch.linspace(-SPAN, SPAN, 80)
        ys, xs = torch.meshgrid(-axis, axis, indexing="ij")
        with torch.no_grad():
            scores = self.discriminator(torch.stack([xs.flatten(), ys.flatten()], 1)).reshape(80, 80)
            fakes = self.generator(self.noise)
        points = fakes.clone().requires_grad_(True)
        (push,) = torch.autograd.grad(self.discriminator(points).sum(), points)
        return {"scores": scores.numpy(), "fakes": fakes.numpy(), "push": push.numpy()}


def to_pixel(point) -> tuple[float, float]:
    return (point[0] + SPAN) / (2 * SPAN) * SIZE, (SPAN - point[1]) / (2 * SPAN) * SIZE


def live_picture(gan: LiveGan) -> Image.Image:
    view = gan.view()
    scale = float(np.abs(view["scores"]).max()) or 1.0
    t = np.clip(view["scores"] / scale, -1, 1)[..., None]
    rgb = np.where(t < 0, 255 + (NEGATIVE - 255) * -t * 0.6, 255 + (POSITIVE - 255) * t * 0.6).astype(np.uint8)
    sheet = Image.new("RGB", (SIZE + 230, SIZE + 10), "white")
    sheet.paste(Image.fromarray(rgb).resize((SIZE, SIZE), Image.BILINEAR), (0, 0))
    pen = ImageDraw.Draw(sheet)
    pen.rectangle([0, 0, SIZE - 1, SIZE - 1], outline=(160, 160, 160))
    real = real_points(gan.distribution, SHOWN, torch.Generator().manual_seed(1)).numpy()
    for point in real:
        x, y = to_pixel(point)
        pen.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=(30, 30, 30))
    lengths = np.linalg.norm(view["push"], axis=1)
    arrow = 0.25 / (float(lengths.max()) or 1.0)
    for point, push in zip(view["fakes"], view["push"]):
        if np.abs(point).max() >= SPAN:  # off the plane drawn
            continue
        x, y = to_pixel(point)
        tip = to_pixel(point + push * arrow)
        pen.line([x, y, *tip], fill=(120, 120, 120), width=1)
        pen.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=FAKE)
    legend = [
        ((30, 30, 30), "real points"),
        (FAKE, "the generator's points"),
        ((120, 120, 120), "lines: where the score rises"),
        (tuple(POSITIVE), "blue: the discriminator says real"),
        (tuple(NEGATIVE), "orange: it says fake"),
    ]
    for index, (colour, text) in enumerate(legend):
        y = 12 + index * 22
        pen.rectangle([SIZE + 14, y, SIZE + 26, y + 12], fill=colour)
        pen.text((SIZE + 32, y - 1), text, fill=(40, 40, 40), font=FONT)
    pen.text((SIZE + 14, 140), f"score range ±{scale:.2f}", fill=(90, 90, 90), font=FONT)
    pen.text((SIZE + 14, 160), f"x and y from -{SPAN:g} to {SPAN:g}", fill=(90, 90, 90), font=FONT)
    return sheet


def status(gan: LiveGan, state: str) -> str:
    if not gan.history:
        return f"A new GAN on the {gan.distribution}: the generator's points start in a clump. {state}"
    recent = gan.history[-STEPS_PER_FRAME:]
    mean = {key: float(np.mean([h[key] for h in recent])) for key in ("loss_d", "loss_g", "caught")}
    return (
        f"Step {gan.steps:,}: discriminator loss {mean['loss_d']:.2f} (2 when it cannot tell real from fake, 0 when "
        f"it is sure of every point), generator loss {mean['loss_g']:+.2f}; it catches {mean['caught']:.0%} of the "
        f"generator's points. {state}"
    )


def make_live():
    def frame(gan, state):
        return gan, png_file(live_picture(gan), fast=True), status(gan, state)

    def current(gan, distribution):
        if distribution not in DISTRIBUTIONS:
            raise Refused(f"Choose a distribution among {DISTRIBUTIONS}.")
        return gan if gan is not None and gan.distribution == distribution else LiveGan(distribution)

    def reset(distribution):
        if distribution not in DISTRIBUTIONS:
            raise Refused(f"Choose a distribution among {DISTRIBUTIONS}.")
        return frame(LiveGan(distribution), "Press **Step** or **Play**.")

    def step(gan, distribution):
        gan = current(gan, distribution)
        gan.step()
        return frame(gan, "One step of each network taken.")

    def play(gan, distribution):
        gan = current(gan, distribution)
        gan.pause.clear()
        end = gan.steps + PLAY_STEPS
        gan.playing = True
        try:
            while not gan.pause.is_set() and gan.steps < end:
                for _ in range(STEPS_PER_FRAME):
                    gan.step()
                yield frame(gan, "Playing... (**Pause** stops it)")
                time.sleep(FRAME_PAUSE)
        finally:
            gan.playing = False
        yield frame(gan, "**Paused.**" if gan.pause.is_set() else f"{PLAY_STEPS:,} steps played: **Play** goes on.")

    def pause(gan):
        if gan is None:
            return "Nothing is training: press **Step** or **Play**."
        gan.pause.set()
        # a playing GAN draws its paused state after the frame under way; otherwise say so here
        return gr.skip() if gan.playing else status(gan, "**Paused.**")

    return reset, step, play, pause


def live_tab() -> None:
    gr.Markdown(
        "Train a GAN here, on points instead of images, and watch both networks move. The **discriminator** colours "
        "the plane: blue where it believes points are real, orange where it believes they are fake. The "
        "**generator** turns random noise into points (the magenta dots, always from the same noise); each grey "
        "line shows where the discriminator's score rises, the way the generator is pushed. The real points are "
        "black. Same recipe as the MNIST GAN: hinge loss, spectral normalization, Adam."
    )
    gan_state = gr.State(None)
    with gr.Row():
        distribution = gr.Radio(DISTRIBUTIONS, value="ring of 8", label="Real points", elem_id="live-distribution")
        new_button = gr.Button("New GAN", elem_id="live-new")
        step_button = gr.Button("Step", elem_id="live-step")
        play_button = gr.Button("Play", variant="primary", elem_id="live-play")
        pause_button = gr.Button("Pause", elem_id="live-pause")
    live_status = gr.Markdown("Press **Step** or **Play** to train.", elem_id="live-status")
    picture = gr.Image(label="The plane", show_label=False, elem_id="live-picture")
    reset, step, play, pause = make_live()
    outputs = [gan_state, picture, live_status]
    new_button.click(reset, distribution, outputs, api_name="live_new")
    step_button.click(step, [gan_state, distribution], outputs, api_name="live_step")
    play_button.click(play, [gan_state, distribution], outputs, api_name="live_play", concurrency_limit=4)
    pause_button.click(pause, gan_state, live_status, api_name="live_pause")
