"""Inside the CNN: each convolution block's feature maps and the first layer's filters, beside the MLP's hidden layer
for the same drawing."""

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..inputs import Refused, is_blank
from .classify import activation_grid
from .kernel import kernel_section

FONT = ImageFont.load_default(size=14)


def tile_sheet(tiles: np.ndarray, columns: int, zoom: int, diverging: bool = False, gap: int = 2) -> Image.Image:
    """(n, h, w) values as a grid of tiles, each scaled on its own: grey levels (dark is high), or blue/orange around
    zero with `diverging` (for weights)."""
    n, h, w = tiles.shape
    rows = -(-n // columns)
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
    height = sum(picture.height + 34 for _, picture in sections) + 8
    sheet = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(sheet)
    y = 8
    for caption, picture in sections:
        pen.text((8, y), caption, fill=(0, 0, 0), font=FONT)
        sheet.paste(picture, (8, y + 22))
        y += picture.height + 34
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
            raise Refused("Draw a digit first.")
        try:
            pixel_values = processor(image, return_tensors="pt")["pixel_values"]
        except ValueError as error:
            raise Refused(str(error)) from None
        inside = cnn_inside(model, pixel_values)
        sections = []
        for index, maps in enumerate(inside["maps"]):
            channels, side = maps.shape[0], maps.shape[-1]
            caption = f"block {index + 1}: {channels} feature maps of {side}x{side} (dark: strong response)"
            sections.append((caption, tile_sheet(maps, min(channels, 16), max(2, 56 // side))))
        filters = inside["filters"]
        caption = f"the first layer's {filters.shape[0]} filters (3x3; blue adds, orange subtracts)"
        sections.append((caption, tile_sheet(filters.mean(1), min(len(filters), 16), 14, diverging=True, gap=8)))
        digit = model.config.id2label[int(inside["logits"].argmax())]
        note = (
            f"The CNN reads **{digit}**. Each block's maps are half the size of the last, and there are more of them."
        )
        if mlp is not None:
            mlp_processor, mlp_model = mlp
            hidden = mlp_model(**mlp_processor(image, return_tensors="pt"), output_hidden_states=True)
            activations = hidden.hidden_states[-1][0].detach().numpy()
            mlp_digit = mlp_model.config.id2label[int(hidden.logits.argmax())]
            caption = (
                f"the MLP's {activations.size} hidden units for the same digit (it reads {mlp_digit}): one number "
                "each, no map"
            )
            sections.append((caption, activation_grid(activations)))
        return captioned(sections), note + "\n\n" + "\n".join(f"- {caption}" for caption, _ in sections)

    return look


def inside_tab(processor, model, mlp, sketchpad) -> None:
    """The CNN's inside view of the drawing on `sketchpad`, beside `mlp` (its processor and network) where given."""
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
        kernel_section(processor, model, sketchpad)
    look_button.click(look, sketchpad, [inside_picture, inside_note], api_name="cnn_inside")
