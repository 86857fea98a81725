"""Draw a digit (or upload a photo of one) and watch the 784-128-10 MLP classify it.

Runs locally (`python spaces/mnist-classifier/app.py`) and as a Hugging Face Space. The model comes from the
environment variable MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets; it loads with
`trust_remote_code=True`, so hfnets need not be installed.
"""

import hashlib
import io
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from transformers import AutoImageProcessor, AutoModelForImageClassification

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-mlp"
SHIPPED_CNN = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-cnn"
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
ZOOM = 8  # the 28x28 input and the activations are shown enlarged, pixel for pixel
# Uploads with more pixels than this are refused from the file's header, before any decoding (a 25 MP photo is ample).
MAX_UPLOAD_PIXELS = 25_000_000
MAX_FILE_SIZE = "10mb"  # larger uploads are refused by Gradio before they are stored


def shipped_model() -> str | None:
    """The shipped model's folder, if it is here."""
    return (
        str(SHIPPED_MODEL)
        if (SHIPPED_MODEL / "config.json").is_file() or (SHIPPED_MODEL / "model_index.json").is_file()
        else None
    )


def shipped_cnn() -> str | None:
    """The shipped convolutional digit classifier's folder, if it is here."""
    return str(SHIPPED_CNN) if (SHIPPED_CNN / "config.json").is_file() else None


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


def load(model_id: str | None = None):
    model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
    if model_id is None:
        raise RuntimeError(
            "No model to show: set MODEL_ID to a Hub model id or a local folder (on a Space: a variable in its "
            "settings)."
        )
    processor = AutoImageProcessor.from_pretrained(model_id, trust_remote_code=True)
    model = AutoModelForImageClassification.from_pretrained(model_id, trust_remote_code=True).eval()
    return processor, model


def is_blank(image: np.ndarray) -> bool:
    """Nothing drawn: every pixel alike (a fresh canvas, transparent or white)."""
    flat = image.reshape(-1, image.shape[-1]) if image.ndim == 3 else image.reshape(-1, 1)
    return bool((flat == flat[0]).all())


def enlarge(array: np.ndarray) -> Image.Image:
    """A 2-D array scaled to 0-255 and enlarged without smoothing."""
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    image = Image.fromarray((scaled * 255).astype(np.uint8))
    return image.resize((array.shape[1] * ZOOM, array.shape[0] * ZOOM), Image.NEAREST)


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
            raise gr.Error("Draw a digit first (or upload a photo of one).")
        if array.ndim == 3 and array.shape[-1] == 4 and array[..., 3].max() == 0:
            raise gr.Error("The image is fully transparent: draw a digit first.")
        try:
            inputs = processor(image, return_tensors="pt")
        except ValueError as error:  # no digit in it, an unreadable array: say so rather than guess
            raise gr.Error(str(error)) from None
        outputs = model(**inputs, output_hidden_states=True)
        probabilities = outputs.logits.softmax(-1)[0]
        scores = {labels[i]: float(p) for i, p in enumerate(probabilities)}
        seen = inputs["pixel_values"].reshape(28, 28).numpy()
        hidden = outputs.hidden_states[-1][0].numpy() if outputs.hidden_states else np.zeros(1)
        columns = 16 if hidden.size % 16 == 0 else hidden.size
        return scores, png_file(enlarge(seen)), png_file(enlarge(hidden.reshape(-1, columns)))

    def classify(upload: dict | str | None):
        """An uploaded file, as Gradio received it (not decoded: the listener skips Gradio's preprocessing), so that
        its size is checked from the header before any pixel is decoded."""
        problem = upload_problem(upload)
        if problem:
            raise gr.Error(problem)
        try:
            with Image.open(upload_path(upload)) as image:
                image.draft(image.mode, (1024, 1024))  # a large JPEG is decoded at a reduced scale, cheaply
                image = ImageOps.exif_transpose(image)
                image.load()
        except (OSError, Image.DecompressionBombError) as error:
            raise gr.Error(f"This file cannot be read as an image ({error}).") from None
        return classify_image(image)

    def classify_drawing(sketch: dict | None):
        composite = None if sketch is None else sketch.get("composite")
        return classify_image(None if composite is None else np.asarray(composite))

    return classify, classify_drawing


# ---------------------------------------------------------------------------------------------------------------
# Inside the CNN: each convolution block's feature maps and the first layer's filters, beside the MLP's hidden layer


def tile_sheet(tiles: np.ndarray, columns: int, zoom: int, diverging: bool = False) -> Image.Image:
    """(n, h, w) values as a grid of tiles, each scaled on its own: grey levels (dark is high), or blue/orange around
    zero with `diverging` (for weights)."""
    n, h, w = tiles.shape
    rows = -(-n // columns)
    gap = 2
    sheet = np.full((rows * (h * zoom + gap) + gap, columns * (w * zoom + gap) + gap, 3), 225, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        if diverging:
            t = np.clip(tile / (np.abs(tile).max() or 1.0), -1, 1)[..., None]
            rgb = np.where(
                t < 0, 255 + (np.array([245, 147, 34]) - 255) * -t, 255 + (np.array([8, 119, 189]) - 255) * t
            )
        else:
            low, high = float(tile.min()), float(tile.max())
            scaled = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
            rgb = np.repeat((255 - 255 * scaled)[..., None], 3, axis=-1)
        row, column = divmod(index, columns)
        y, x = gap + row * (h * zoom + gap), gap + column * (w * zoom + gap)
        sheet[y : y + h * zoom, x : x + w * zoom] = rgb.astype(np.uint8).repeat(zoom, 0).repeat(zoom, 1)
    return Image.fromarray(sheet)


def captioned(sections: list[tuple[str, Image.Image]]) -> Image.Image:
    """Pictures stacked top to bottom, each under its caption."""
    width = max(picture.width for _, picture in sections) + 16
    height = sum(picture.height + 30 for _, picture in sections) + 8
    sheet = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(sheet)
    y = 8
    for caption, picture in sections:
        pen.text((8, y), caption, fill=(0, 0, 0))
        sheet.paste(picture, (8, y + 18))
        y += picture.height + 30
    return sheet


@torch.no_grad()
def cnn_inside(model, pixel_values: torch.Tensor) -> dict:
    """The CNN's own numbers for one image: each block's feature maps (its `hidden_states` that are maps) and the
    first convolution's filters."""
    outputs = model(pixel_values=pixel_values, output_hidden_states=True)
    maps = [state[0].float().numpy() for state in outputs.hidden_states if state.dim() == 4]
    first = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    return {"maps": maps, "filters": first.weight.detach().float().numpy(), "logits": outputs.logits[0]}


def make_cnn_inside(processor, model, mlp=None):
    def look(sketch: dict | None):
        composite = None if sketch is None else sketch.get("composite")
        image = None if composite is None else np.asarray(composite)
        if image is None or image.size == 0 or is_blank(image):
            raise gr.Error("Draw a digit first.")
        try:
            pixel_values = processor(image, return_tensors="pt")["pixel_values"]
        except ValueError as error:
            raise gr.Error(str(error)) from None
        inside = cnn_inside(model, pixel_values)
        sections = []
        for index, maps in enumerate(inside["maps"]):
            channels, side = maps.shape[0], maps.shape[-1]
            caption = f"block {index + 1}: {channels} feature maps of {side}x{side} (dark: strong response)"
            sections.append((caption, tile_sheet(maps, min(channels, 16), max(2, 56 // side))))
        filters = inside["filters"]
        caption = f"the first layer's {filters.shape[0]} filters (3x3; blue adds, orange subtracts)"
        sections.append((caption, tile_sheet(filters.mean(1), min(len(filters), 16), 12, diverging=True)))
        digit = model.config.id2label[int(inside["logits"].argmax())]
        note = (
            f"The CNN reads **{digit}**. Each block's maps are half the size of the last, and there are more of them."
        )
        if mlp is not None:
            mlp_processor, mlp_model = mlp
            hidden = mlp_model(**mlp_processor(image, return_tensors="pt"), output_hidden_states=True)
            activations = hidden.hidden_states[-1][0].detach().numpy()
            mlp_digit = mlp_model.config.id2label[int(hidden.logits.argmax())]
            columns = 16 if activations.size % 16 == 0 else activations.size
            caption = (
                f"the MLP's {activations.size} hidden units for the same digit (it reads {mlp_digit}): one number "
                "each, no map"
            )
            sections.append((caption, enlarge(activations.reshape(-1, columns))))
        return captioned(sections), note + "\n\n" + "\n".join(f"- {caption}" for caption, _ in sections)

    return look


def build_demo(model_id: str | None = None) -> gr.Blocks:
    processor, model = load(model_id)
    classify, classify_drawing = make_classifier(processor, model)
    examples = sorted(os.path.join(EXAMPLES_DIR, name) for name in os.listdir(EXAMPLES_DIR) if name.endswith(".png"))
    with gr.Blocks(title="MNIST digit classifier") as demo:
        gr.Markdown(
            f"# Handwritten digit classifier\n{describe(model.config)} Draw a digit anywhere on the canvas, or upload "
            "a photo: the image processor crops, scales and centers it as MNIST digits are."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    sketchpad = gr.Sketchpad(
                        label="Draw a digit", type="numpy", image_mode="RGBA", canvas_size=(400, 400), elem_id="canvas"
                    )
                    draw_button = gr.Button("Classify the drawing", variant="primary", elem_id="classify-drawing")
                with gr.Tab("Upload"):
                    upload = gr.Image(label="Photo of a digit", type="filepath", sources=["upload"])
                    upload_button = gr.Button("Classify the photo", variant="primary", elem_id="classify-photo")
                    gr.Examples(examples, inputs=upload)
            with gr.Column():
                label = gr.Label(label="Prediction", num_top_classes=3, elem_id="prediction")
                seen = gr.Image(label="What the network sees (28x28)", type="filepath", elem_id="seen")
                hidden = gr.Image(label="Hidden layer activations", type="filepath", height=180, elem_id="hidden")
        outputs = [label, seen, hidden]
        draw_button.click(classify_drawing, sketchpad, outputs, api_name="classify_drawing")
        if hasattr(model.config, "conv_channels"):
            mlp_id = os.environ.get("MLP_MODEL_ID") or shipped_model()
            mlp = load(mlp_id) if mlp_id and mlp_id != model_id else None
            look = make_cnn_inside(processor, model, mlp)
            with gr.Accordion("Inside the CNN: feature maps and filters", open=False, elem_id="cnn-inside"):
                gr.Markdown(
                    "A convolution slides small filters over the image: each feature map shows where one filter "
                    "found its pattern (a stroke's edge, a corner), block after block at half the size. The MLP "
                    "beside it has no maps: each hidden unit weighs all 784 pixels at once."
                )
                look_button = gr.Button("Look inside (the drawing above)", elem_id="cnn-look")
                inside_note = gr.Markdown(elem_id="cnn-note")
                inside_picture = gr.Image(label="Inside", show_label=False, format="png", elem_id="cnn-maps")
            look_button.click(look, sketchpad, [inside_picture, inside_note], api_name="cnn_inside")
        upload_button.click(classify, upload, outputs, api_name="classify", preprocess=False, validator=check_upload)
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=4, max_size=64).launch(max_file_size=MAX_FILE_SIZE)
