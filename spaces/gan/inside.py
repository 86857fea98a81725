"""Inside the GAN: the training epoch by epoch, and what the discriminator believes of generated and drawn digits."""

import json
from pathlib import Path

import gradio as gr
import pandas as pd
import torch
from huggingface_hub import snapshot_download
from PIL import Image, ImageDraw, ImageFont

from ..inputs import MAX_SEED, Refused, bounded, digit_pad, drawn_digit, parse_seed
from ..pictures import png_file
from .generate import parse_digit

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
            raise Refused("This model keeps no training history.")
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
        passed = int((shown["fake_scores"] >= 0.005).sum())  # a score shown as +0.00 is undecided, not "real"
        note = (
            f"{passed} of the generator's {NUM_SCORED} digits look real to the discriminator (a score of +0.01 or "
            "more); pure "
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
                epoch.change(show_epoch, epoch, [grid, history_note], api_name="history_epoch", preprocess=False)
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
        score_button.click(
            score_generated, [digit, seed], [scored, scored_note], api_name="score_generated", preprocess=False
        )
        with gr.Row():
            with gr.Column():
                canvas = digit_pad("gan-canvas", 300)
                drawing_button = gr.Button("Ask the discriminator", variant="primary", elem_id="score-drawing")
            with gr.Column(scale=2):
                verdict = gr.Image(label="Your drawing's scores", show_label=False, type="filepath", elem_id="verdict")
                verdict_note = gr.Markdown(elem_id="verdict-note")
        drawing_button.click(score_drawing, canvas, [verdict, verdict_note], api_name="score_drawing")
