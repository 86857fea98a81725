"""The GAN's drawing: a grid of digits from one seed, and a walk between two seeds' noise."""

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from PIL import Image

from ..inputs import Refused, bounded, parse_seed
from ..pictures import png_file

MAX_IMAGES = 64
ZOOM = 3


def load(model_id: str) -> DiffusionPipeline:
    pipe = DiffusionPipeline.from_pretrained(model_id, trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def grid(images: list[Image.Image], columns: int) -> Image.Image:
    """Images side by side, `columns` per row, enlarged pixel for pixel."""
    rows = -(-len(images) // columns)
    blank = Image.new(images[0].mode, images[0].size, 255)
    picture = make_image_grid(images + [blank] * (rows * columns - len(images)), rows, columns)
    return picture.resize((picture.width * ZOOM, picture.height * ZOOM), Image.NEAREST)


def digit_choices(num_classes: int) -> list[str]:
    return ["random"] + [str(d) for d in range(num_classes)]


def parse_digit(digit: str | None, num_classes: int) -> int | None:
    if digit in (None, "", "random"):
        return None
    if not isinstance(digit, str) or digit not in digit_choices(num_classes):
        raise Refused(f"Pick a digit from 0 to {num_classes - 1}, or random.")
    return int(digit)


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
