"""Reading a digit: a drawing or an uploaded photo through the classifier's image processor and network, with what
the network sees and its hidden layer's activations."""

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageOps
from transformers import AutoImageProcessor, AutoModelForImageClassification

from ..inputs import Refused, is_blank
from ..pictures import png_file

ZOOM = 8  # the 28x28 input and the activations are shown enlarged, pixel for pixel
# Uploads with more pixels than this are refused from the file's header, before any decoding (a 25 MP photo is ample).
MAX_UPLOAD_PIXELS = 25_000_000
# Photos are read at most this many pixels a side (a JPEG decoded at a reduced scale): a digit needs no more, and a
# 16-megapixel photo then costs a tenth of a second rather than a quarter.
PHOTO_SIDE = 512


def load(model_id: str):
    """The image processor and the network of an hfnets image classifier (an MLP or a CNN)."""
    processor = AutoImageProcessor.from_pretrained(model_id, trust_remote_code=True)
    model = AutoModelForImageClassification.from_pretrained(model_id, trust_remote_code=True).eval()
    return processor, model


def describe(config) -> str:
    """One line on the network, from its config."""
    if hasattr(config, "conv_channels"):
        filters = ", ".join(map(str, config.conv_channels))
        return (
            f"A small convolutional network: {len(config.conv_channels)} blocks of 3x3 convolutions ({filters} "
            f"filters) with max-pooling, then {config.hidden_size} hidden units and softmax."
        )
    sizes = "-".join(str(n) for n in [config.input_size, *config.hidden_sizes, config.num_labels])
    activation = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU"}.get(config.hidden_act, config.hidden_act)
    return f"The textbook {sizes} network ({activation} hidden units, softmax)."


def enlarge(array: np.ndarray) -> Image.Image:
    """A 2-D array scaled to 0-255 and enlarged without smoothing."""
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    image = Image.fromarray((scaled * 255).astype(np.uint8))
    return image.resize((array.shape[1] * ZOOM, array.shape[0] * ZOOM), Image.NEAREST)


def activation_grid(hidden: np.ndarray, columns: int = 16, cell: int = 22) -> Image.Image:
    """The hidden layer's activations as cells, unit 0 at the top left, rows of `columns`: white at 0, darker blue
    the higher; row starts labelled with their first unit, and the scale below."""
    from PIL import ImageDraw, ImageFont

    columns = columns if hidden.size % columns == 0 else hidden.size
    grid = hidden.reshape(-1, columns)
    high = float(max(hidden.max(), 1e-6))
    shade = np.clip(grid / high, 0, 1)[..., None]
    cells = (255 + (np.array([8, 119, 189]) - 255) * shade).astype(np.uint8).repeat(cell, 0).repeat(cell, 1)
    font = ImageFont.load_default(size=13)
    left, top = 44, 32
    sheet = Image.new("RGB", (left + cells.shape[1] + 8, top + cells.shape[0] + 40), "white")
    sheet.paste(Image.fromarray(cells), (left, top))
    pen = ImageDraw.Draw(sheet)
    for row in range(grid.shape[0]):
        pen.text(
            (left - 6, top + row * cell + cell / 2), str(row * columns), fill=(90, 90, 90), font=font, anchor="rm"
        )
    active = int((hidden > 0).sum())
    pen.text(
        (left, top + cells.shape[0] + 8),
        f"{active} of {hidden.size} units active; white 0, darkest {high:.2f}",
        fill=(60, 60, 60),
        font=font,
    )
    return sheet


def upload_path(upload: dict | str | None) -> str | None:
    return upload.get("path") if isinstance(upload, dict) else upload


def upload_problem(upload: dict | str | None) -> str | None:
    """What is wrong with an upload, from its header alone (milliseconds), or None."""
    path = upload_path(upload)
    if path is None:
        return "Upload a photo of a digit first."
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except (OSError, Image.DecompressionBombError) as error:
        return f"This file cannot be read as an image ({error})."
    if width * height > MAX_UPLOAD_PIXELS:
        return (
            f"The image is {width}x{height} pixels: upload one of at most {MAX_UPLOAD_PIXELS // 1_000_000} megapixels "
            "(a digit needs far fewer)."
        )
    return None


def check_upload(upload: dict | str | None):
    """Gradio's validator: runs before the request joins the queue, so a file refused from its header never waits
    for (or holds up) a turn."""
    problem = upload_problem(upload)
    return gr.validate(problem is None, problem or "")


def make_classifier(processor, model):
    labels = model.config.id2label

    @torch.no_grad()
    def classify_image(image: np.ndarray | Image.Image | None):
        """Top classes, the 28x28 image the network sees, and its hidden layer's activations."""
        array = None if image is None else np.asarray(image)
        if array is None or array.size == 0 or is_blank(array):
            raise Refused("Draw a digit first (or upload a photo of one).")
        if array.ndim == 3 and array.shape[-1] == 4 and array[..., 3].max() == 0:
            raise Refused("The image is fully transparent: draw a digit first.")
        try:
            inputs = processor(image, return_tensors="pt")
        except ValueError as error:  # no digit in it, an unreadable array: say so rather than guess
            raise Refused(str(error)) from None
        outputs = model(**inputs, output_hidden_states=True)
        probabilities = outputs.logits.softmax(-1)[0]
        scores = {labels[i]: float(p) for i, p in enumerate(probabilities)}
        seen = inputs["pixel_values"].reshape(28, 28).numpy()
        hidden = outputs.hidden_states[-1][0].numpy() if outputs.hidden_states else np.zeros(1)
        return scores, png_file(enlarge(seen)), png_file(activation_grid(hidden))

    def classify(upload: dict | str | None):
        """An uploaded file, as Gradio received it (not decoded: the listener skips Gradio's preprocessing), so that
        its size is checked from the header before any pixel is decoded."""
        problem = upload_problem(upload)
        if problem:
            raise Refused(problem)
        try:
            with Image.open(upload_path(upload)) as image:
                image.draft(image.mode, (PHOTO_SIDE, PHOTO_SIDE))  # a large JPEG is decoded at a reduced scale
                image = ImageOps.exif_transpose(image)
                image.load()
            image.thumbnail((PHOTO_SIDE, PHOTO_SIDE), reducing_gap=2.0)
        except (OSError, Image.DecompressionBombError) as error:
            raise Refused(f"This file cannot be read as an image ({error}).") from None
        if image.mode == "CMYK":  # print colours: the fourth channel is black ink, not transparency
            image = image.convert("RGB")
        return classify_image(image)

    def classify_drawing(sketch: dict | None):
        composite = None if sketch is None else sketch.get("composite")
        return classify_image(None if composite is None else np.asarray(composite))

    return classify, classify_drawing
