"""Handwritten digits from the class-conditional GAN: pick a digit and a seed, walk the latent space, or look inside:
the training epoch by epoch and what the discriminator believes.

Runs locally (`python spaces/gan/app.py`) and as a Hugging Face Space. The model comes from the environment variable
MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets;
it loads with `trust_remote_code=True`. Drawings are turned into MNIST-style digits by the image processor of
PROCESSOR_MODEL_ID (a Hub id or a local folder with an hfnets MNIST classifier), by default the shipped MLP.
"""

import hashlib
import io
import json
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import make_image_grid
from huggingface_hub import snapshot_download
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F
from transformers import AutoImageProcessor

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-gan"
# The shipped classifier whose image processor prepares drawings (cropped, centred, 28x28, as MNIST's digits are).
SHIPPED_PROCESSOR = SHIPPED_MODEL.parent / "mnist-mlp"
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


def model_to_show(model_id: str | None = None) -> str:
    model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
    if model_id is None:
        raise RuntimeError(
            "No model to show: set MODEL_ID to a Hub model id or a local folder (on a Space: a variable in its "
            "settings)."
        )
    return model_id


def load(model_id: str | None = None) -> DiffusionPipeline:
    pipe = DiffusionPipeline.from_pretrained(model_to_show(model_id), trust_remote_code=True)
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


# ---------------------------------------------------------------------------------------------------------------
# Inside the GAN: the training epoch by epoch, and what the discriminator believes of generated and drawn digits

NUM_SCORED = 8  # generated digits (and noise images) scored at a time
BLUE, ORANGE, GREY = (8, 119, 189), (245, 147, 34), (120, 120, 120)
FONT = ImageFont.load_default(13)


def training_history(model_id: str) -> tuple[list[dict], str | None]:
    """What the training script kept with the model: per epoch its entry of `all_results.json`'s "history" (epoch,
    step, both losses, the discriminator's accuracy on fakes) and `grid`, the path of that epoch's fixed-noise grid
    (`samples/step-<step>.png`). From a folder, or a Hub repository (only these files are fetched). Returns the epochs
    and, where there are none, why."""
    folder = Path(model_id)
    if not folder.is_dir():
        try:
            folder = Path(snapshot_download(model_id, allow_patterns=["all_results.json", "samples/step-*.png"]))
        except Exception as error:  # noqa: BLE001 (any failure to fetch is reported on the page, the rest works)
            return [], f"The model's training history could not be fetched from the Hub ({type(error).__name__})."
    results = folder / "all_results.json"
    if not results.is_file():
        return [], "This model was saved without its training history (`all_results.json`)."
    epochs = []
    for entry in json.loads(results.read_text()).get("history") or []:
        grid = folder / "samples" / f"step-{entry.get('step')}.png"
        if grid.is_file():
            epochs.append({**entry, "grid": str(grid)})
    if not epochs:
        return [], "This model keeps no per-epoch sample grids (`samples/step-<step>.png`)."
    return epochs, None


def losses_table(epochs: list[dict]) -> pd.DataFrame:
    """Long-format table for the chart: one row per epoch and series."""
    series = {
        "loss_discriminator": "discriminator loss",
        "loss_generator": "generator loss",
        "d_accuracy_on_fakes": "fakes caught (share)",
    }
    rows = [
        {"epoch": entry["epoch"], "value": float(entry[key]), "series": name}
        for entry in epochs
        for key, name in series.items()
        if key in entry
    ]
    return pd.DataFrame(rows, columns=["epoch", "value", "series"])


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


def captioned_digits(images: torch.Tensor, captions: list[str], colors: list[tuple], zoom: int = 3) -> Image.Image:
    """(N, C, H, W) images in [0, 1] side by side, each enlarged with its caption below in its colour."""
    side = images.shape[-1] * zoom
    sheet = Image.new("RGB", (len(images) * (side + 12) + 12, side + 40), "white")
    pen = ImageDraw.Draw(sheet)
    for index, (image, caption, color) in enumerate(zip(images, captions, colors, strict=True)):
        pixels = (image.clamp(0, 1) * 255).round().byte()
        picture = Image.fromarray(pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy())
        x = 12 + index * (side + 12)
        sheet.paste(picture.resize((side, side), Image.NEAREST).convert("RGB"), (x, 8))
        pen.text((x, side + 14), caption, fill=color, font=FONT)
    return sheet


def score_color(score: float) -> tuple:
    return BLUE if score > 0 else ORANGE


def score_bars(scores: torch.Tensor, seen: torch.Tensor, width: int = 560, height: int = 260) -> Image.Image:
    """The discriminator's score for one image claimed as each class: a bar per class from 0 (blue above: looks
    real; orange below: looks fake), dashed lines at +-1 (sure), and the image it saw at the left."""
    zoom = 4
    side = seen.shape[-1] * zoom
    sheet = Image.new("RGB", (width, height), "white")
    pixels = (seen[0].clamp(0, 1) * 255).round().byte().numpy()
    sheet.paste(Image.fromarray(pixels).resize((side, side), Image.NEAREST).convert("RGB"), (10, 34))
    pen = ImageDraw.Draw(sheet)
    pen.text((10, 10), "what it sees", fill=GREY, font=FONT)
    left, right, top, bottom = side + 40, width - 70, 40, height - 34
    reach = max(1.5, float(scores.abs().max()) * 1.15)

    def y_of(value: float) -> float:
        return top + (reach - value) / (2 * reach) * (bottom - top)

    for value, name in ((1, "sure: real"), (-1, "sure: fake")):
        for x in range(left, right, 8):
            pen.line([(x, y_of(value)), (x + 4, y_of(value))], fill=GREY)
        pen.text((right + 6, y_of(value) - 8), name, fill=GREY, font=FONT)
    pen.line([(left, y_of(0)), (right, y_of(0))], fill=(0, 0, 0))
    pen.text((right + 6, y_of(0) - 8), "0", fill=(0, 0, 0), font=FONT)
    slot = (right - left) / len(scores)
    for index, score in enumerate(scores.tolist()):
        x = left + index * slot + slot * 0.2
        pen.rectangle(
            [x, min(y_of(0), y_of(score)), x + slot * 0.6, max(y_of(0), y_of(score))], fill=score_color(score)
        )
        value_y = y_of(score) - 16 if score > 0 else y_of(score) + 2
        pen.text((x - 2, value_y), f"{score:+.1f}", fill=score_color(score), font=FONT)
        pen.text((x + slot * 0.2, bottom + 12), str(index), fill=(0, 0, 0), font=FONT)
    pen.text((left, 10), "its score for the drawing claimed as each digit", fill=(0, 0, 0), font=FONT)
    return sheet


@torch.no_grad()
def scored_samples(pipe, label: int | None, seed: int) -> dict:
    """What the discriminator says of NUM_SCORED of the generator's digits (`label`, or random classes drawn from
    `seed`) and of as many images of uniform noise (claiming the same classes): the images in [0, 1], the classes and
    the scores, all from `pipe.discriminate`."""
    num_classes = pipe.num_classes or 0
    noise_source = torch.Generator().manual_seed(seed)
    labels = None
    if num_classes and label is not None:
        labels = torch.full((NUM_SCORED,), label)
    elif num_classes:
        labels = torch.randint(0, num_classes, (NUM_SCORED,), generator=noise_source)
    fakes = pipe(
        batch_size=NUM_SCORED, class_labels=labels, generator=torch.Generator().manual_seed(seed), output_type="pt"
    ).images
    noise = torch.rand(fakes.shape, generator=noise_source)
    return {
        "labels": labels,
        "fakes": fakes,
        "fake_scores": pipe.discriminate(fakes, class_labels=labels).scores,
        "noise": noise,
        "noise_scores": pipe.discriminate(noise, class_labels=labels).scores,
    }


@torch.no_grad()
def drawing_scores(pipe, digit: torch.Tensor) -> torch.Tensor:
    """One image's score claimed as each class (copies of one image in a batch score as it alone), or its one score
    for an unconditional GAN."""
    num_classes = pipe.num_classes or 0
    if not num_classes:
        return pipe.discriminate(digit).scores
    return pipe.discriminate(digit.expand(num_classes, -1, -1, -1), class_labels=list(range(num_classes))).scores


def make_inside(pipe, epochs: list[dict], processor):
    num_classes = pipe.num_classes or 0
    image_size = pipe.generator.config.image_size

    def show_epoch(epoch: float):
        if not epochs:
            raise gr.Error("This model keeps no training history.")
        index = bounded(epoch, 1, len(epochs), f"Pick an epoch from 1 to {len(epochs)}.") - 1
        entry = epochs[index]
        note = (
            f"**Epoch {entry['epoch']}** (step {entry['step']}): the generator's digits from the noise of every epoch."
        )
        if "loss_discriminator" in entry and "loss_generator" in entry:
            note += (
                f" Discriminator loss {entry['loss_discriminator']:.2f} (0: it tells every image apart; 2: it cannot "
                f"tell at all), generator loss {entry['loss_generator']:+.2f} (the negated score of its digits: below "
                "0, they pass as real)."
            )
        if "d_accuracy_on_fakes" in entry:
            note += f" The discriminator caught {entry['d_accuracy_on_fakes']:.0%} of the generator's digits."
        return entry["grid"], note

    def score_generated(digit: str, seed: float):
        """NUM_SCORED generated digits and as many noise images, each with the discriminator's score."""
        label, seed = parse_digit(digit, num_classes), parse_seed(seed)
        shown = scored_samples(pipe, label, seed)
        labels = shown["labels"]
        names = [f"{int(c)}: " for c in labels] if labels is not None else [""] * NUM_SCORED
        rows = []
        for title, images, scores in (
            ("the generator's", shown["fakes"], shown["fake_scores"]),
            ("pure noise", shown["noise"], shown["noise_scores"]),
        ):
            scores = scores.tolist()
            captions = [f"{name}{score:+.2f}" for name, score in zip(names, scores, strict=True)]
            rows.append((title, captioned_digits(images, captions, [score_color(score) for score in scores])))
        sheet = Image.new("RGB", (max(row.width for _, row in rows), sum(row.height + 22 for _, row in rows)), "white")
        pen, y = ImageDraw.Draw(sheet), 0
        for title, row in rows:
            pen.text((12, y + 4), title, fill=(0, 0, 0), font=FONT)
            sheet.paste(row, (0, y + 22))
            y += row.height + 22
        passed = int((shown["fake_scores"] > 0).sum())
        note = (
            f"{passed} of the generator's {NUM_SCORED} digits look real to the discriminator (score above 0); pure "
            f"noise scores {float(shown['noise_scores'].mean()):+.2f} on average. Training pushed real digits to +1 "
            "and the generator's to -1: a score near 0 means the generator has learned to fool it."
        )
        return png_file(sheet), note

    def score_drawing(sketch: dict | None):
        """The drawing's score claimed as each digit (a class-conditional discriminator judges "a real 3")."""
        digit = drawn_digit(processor, sketch, image_size)
        scores = drawing_scores(pipe, digit)
        best = int(scores.argmax())
        note = (
            f"As a **{best}** your drawing looks most real to the discriminator ({float(scores[best]):+.2f})."
            if num_classes
            else f"Your drawing scores {float(scores[0]):+.2f}."
        )
        note += (
            " It never saw a drawing like yours in training: only MNIST's digits (real) and the generator's (fake), "
            "so it judges by what tells those two apart."
        )
        return png_file(score_bars(scores, digit[0])), note

    return show_epoch, score_generated, score_drawing


def inside_tab(pipe, model_id: str, processor, choices: list[str]) -> None:
    epochs, missing = training_history(model_id)
    show_epoch, score_generated, score_drawing = make_inside(pipe, epochs, processor)
    with gr.Tab("Inside the GAN", elem_id="gan-inside"):
        gr.Markdown(
            "A GAN trains two networks against each other. The **generator** turns noise into a digit; the "
            "**discriminator** looks at a digit and scores how real it looks. The discriminator learns from real "
            "digits and the generator's; the generator learns only through the discriminator's score, to raise it. "
            "(The *Interpolate* tab walks between two noise vectors.)"
        )
        gr.Markdown("### Training, epoch by epoch")
        if epochs:
            with gr.Row():
                with gr.Column():
                    last_grid, last_note = show_epoch(len(epochs))
                    epoch = None  # a model trained for one epoch has nothing to slide through
                    if len(epochs) > 1:
                        epoch = gr.Slider(
                            1, len(epochs), value=len(epochs), step=1, label="Epoch", elem_id="history-epoch"
                        )
                    history_note = gr.Markdown(last_note, elem_id="history-note")
                    grid = gr.Image(
                        last_grid,
                        label="Fixed noise, a row per digit",
                        type="filepath",
                        height=360,
                        elem_id="history-grid",
                    )
                gr.LinePlot(
                    losses_table(epochs),
                    x="epoch",
                    y="value",
                    color="series",
                    label="Losses and the discriminator's catch, per epoch",
                    elem_id="gan-losses",
                )
            if epoch is not None:
                epoch.change(show_epoch, epoch, [grid, history_note], api_name="history_epoch")
        else:
            gr.Markdown(missing, elem_id="history-note")
        gr.Markdown("### What the discriminator believes")
        if getattr(pipe, "discriminator", None) is None or not hasattr(pipe, "discriminate"):
            gr.Markdown(
                "This model was saved without its discriminator (`scripts/train_gan.py` saves it with the pipeline).",
                elem_id="scored-note",
            )
            return
        with gr.Row():
            with gr.Column():
                digit = gr.Dropdown(choices, value=choices[-1], label="Digit")
                seed = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
                score_button = gr.Button("Score generated digits and noise", elem_id="score-generated")
            with gr.Column(scale=2):
                scored = gr.Image(label="Scores", show_label=False, type="filepath", elem_id="scored")
                scored_note = gr.Markdown(elem_id="scored-note")
        score_button.click(score_generated, [digit, seed], [scored, scored_note], api_name="score_generated")
        with gr.Row():
            with gr.Column():
                canvas = gr.Sketchpad(
                    label="Draw a digit", type="numpy", image_mode="RGBA", canvas_size=(300, 300), elem_id="gan-canvas"
                )
                drawing_button = gr.Button("Ask the discriminator", variant="primary", elem_id="score-drawing")
            with gr.Column(scale=2):
                verdict = gr.Image(label="Your drawing's scores", show_label=False, type="filepath", elem_id="verdict")
                verdict_note = gr.Markdown(elem_id="verdict-note")
        drawing_button.click(score_drawing, canvas, [verdict, verdict_note], api_name="score_drawing")


def build_demo(model_id: str | None = None, processor_id: str | None = None) -> gr.Blocks:
    model_id = model_to_show(model_id)
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
        inside_tab(pipe, model_id, load_processor(processor_id), choices)
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
