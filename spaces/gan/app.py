"""Handwritten digits from the class-conditional GAN: pick a digit and a seed, or walk the latent space.

Runs locally (`python spaces/gan/app.py`) and as a Hugging Face Space. The model comes from the environment variable
MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets;
it loads with `trust_remote_code=True`.
"""

import hashlib
import io
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-gan"
MAX_IMAGES = 64
MAX_SEED = 2**31 - 1
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


def grid(images: list[Image.Image], columns: int) -> Image.Image:
    """Images side by side, `columns` per row, enlarged pixel for pixel."""
    rows = -(-len(images) // columns)
    blank = Image.new(images[0].mode, images[0].size, 255)
    picture = make_image_grid(images + [blank] * (rows * columns - len(images)), rows, columns)
    return picture.resize((picture.width * ZOOM, picture.height * ZOOM), Image.NEAREST)


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


def digit_choices(num_classes: int) -> list[str]:
    return ["random"] + [str(d) for d in range(num_classes)]


def parse_digit(digit: str | None, num_classes: int) -> int | None:
    if digit in (None, "", "random"):
        return None
    if not isinstance(digit, str) or digit not in digit_choices(num_classes):
        raise gr.Error(f"Pick a digit from 0 to {num_classes - 1}, or random.")
    return int(digit)


def parse_seed(seed) -> int:
    return bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")


def make_functions(pipe):
    num_classes = pipe.num_classes or 0

    @torch.no_grad()
    def generate(digit: str, seed: float, num_images: float) -> Image.Image:
        """A grid of `num_images` digits (one digit or random ones) from one seed."""
        label, seed = parse_digit(digit, num_classes), parse_seed(seed)
        count = bounded(num_images, 1, MAX_IMAGES, f"Ask for 1 to {MAX_IMAGES} images.")
        images = pipe(
            batch_size=count,
            class_labels=label if num_classes else None,
            generator=torch.Generator().manual_seed(seed),
            output_type="pil",
        ).images
        return png_file(grid(images, columns=min(count, 8)))

    @torch.no_grad()
    def interpolate(digit: str, start_seed: float, end_seed: float, num_images: float) -> Image.Image:
        """A strip of digits morphing from one seed's noise to another's."""
        label = parse_digit(digit, num_classes)
        start, end = parse_seed(start_seed), parse_seed(end_seed)
        num_images = bounded(num_images, 2, 16, "The strip holds 2 to 16 images.")
        if label is None and num_classes:
            label = start % num_classes
        images = pipe.interpolate(
            start_seed=start,
            end_seed=end,
            num_images=int(num_images),
            class_labels=label if num_classes else None,
            output_type="pil",
        ).images
        return png_file(grid(images, columns=int(num_images)))

    return generate, interpolate


def build_demo(model_id: str | None = None) -> gr.Blocks:
    pipe = load(model_id)
    generate, interpolate = make_functions(pipe)
    choices = digit_choices(pipe.num_classes or 0) if pipe.num_classes else ["random"]
    with gr.Blocks(title="MNIST GAN") as demo:
        gr.Markdown("# Digits from a GAN\nA class-conditional generator: one forward pass per image.")
        with gr.Tab("Generate"):
            with gr.Row():
                digit = gr.Dropdown(choices, value=choices[min(1, len(choices) - 1)], label="Digit")
                seed = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
                count = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="Images")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
            output = gr.Image(label="Samples", type="filepath", height=420, elem_id="samples")
            gr.Examples([["7", 0, 16], ["random", 42, 32]], inputs=[digit, seed, count])
            button.click(generate, [digit, seed, count], output, api_name="generate")
        with gr.Tab("Interpolate"):
            with gr.Row():
                strip_digit = gr.Dropdown(choices, value=choices[-1], label="Digit")
                start = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="From seed")
                end = gr.Number(value=1, minimum=0, maximum=MAX_SEED, precision=0, label="To seed")
                steps = gr.Slider(2, 16, value=8, step=1, label="Images")
            strip_button = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
            strip = gr.Image(label="Latent walk", type="filepath", elem_id="strip")
            strip_button.click(interpolate, [strip_digit, start, end, steps], strip, api_name="interpolate")
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
