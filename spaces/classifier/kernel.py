"""Inside the CNN, one position at a time: the first convolution's filter over the drawing, the 3x3 patch under it,
and the arithmetic of that position (patch x kernel + bias -> ReLU), as the filter slides along a row."""

import time

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..inputs import Refused, bounded, is_blank
from ..pictures import png_file

ZOOM = 10  # pixels per input pixel in the picture
GAP = 48  # between the input and the map
TOP = 26  # room for the titles
SLIDE_SECONDS = 0.12  # the kernel's pace along a row
FONT = ImageFont.load_default(size=14)


def first_convolution(model) -> torch.nn.Conv2d:
    return next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))


@torch.no_grad()
def feature_map(model, pixel_values: torch.Tensor, channel: int) -> np.ndarray:
    """The first convolution's output for one filter over the whole image, before the ReLU: (side, side)."""
    return first_convolution(model)(pixel_values.float())[0, channel].numpy()


def position(model, pixel_values: torch.Tensor, channel: int, row: int, column: int) -> dict:
    """One position of the filter, computed by hand: the patch of the padded input under it (channels, kh, kw), the
    kernel, their products, the bias, the weighted sum and the ReLU of it."""
    conv = first_convolution(model)
    kernel = conv.weight[channel].detach().float().numpy()
    pad_h, pad_w = conv.padding
    padded = np.pad(pixel_values[0].float().numpy(), ((0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    kh, kw = kernel.shape[1:]
    patch = padded[:, row : row + kh, column : column + kw]
    bias = float(conv.bias[channel].detach()) if conv.bias is not None else 0.0
    products = patch * kernel
    total = float(products.sum()) + bias
    return {"patch": patch, "kernel": kernel, "products": products, "bias": bias, "sum": total, "relu": max(total, 0)}


def gray(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = np.clip((values - low) / ((high - low) or 1.0), 0, 1)
    return (255 - 255 * scaled).astype(np.uint8)  # dark is high, as the ink of a digit


def kernel_picture(image: np.ndarray, fmap: np.ndarray, row: int, column: int, shown: int | None = None):
    """The input with the filter's 3x3 window at (row, column), and the feature map after ReLU with that position
    ringed; with `shown`, only the map's positions before it (row-major) are filled in, as the slide computes them."""
    side = image.shape[0]
    relu = np.maximum(fmap, 0)
    map_pixels = gray(relu, 0, float(relu.max()) or 1.0)
    if shown is not None:
        hidden = np.arange(relu.size).reshape(relu.shape) >= shown
        map_pixels = np.where(hidden, 236, map_pixels).astype(np.uint8)
    width = 2 * side * ZOOM + GAP
    sheet = Image.new("RGB", (width, TOP + side * ZOOM + 4), "white")
    big = lambda pixels: Image.fromarray(pixels).resize((side * ZOOM, side * ZOOM), Image.NEAREST)  # noqa: E731
    sheet.paste(big(gray(image, float(image.min()), float(image.max()))), (0, TOP))
    sheet.paste(big(map_pixels), (side * ZOOM + GAP, TOP))
    pen = ImageDraw.Draw(sheet)
    for left in (0, side * ZOOM + GAP):  # the frames of the input and of the map
        pen.rectangle([left, TOP, left + side * ZOOM - 1, TOP + side * ZOOM - 1], outline=(170, 170, 170))
    pen.text((0, 4), "the input (padded by 1 at the edges)", fill=(30, 30, 30), font=FONT)
    pen.text((side * ZOOM + GAP, 4), "the filter's feature map (after ReLU)", fill=(30, 30, 30), font=FONT)
    # the window covers input rows row-1 .. row+1 (padding 1), the map's cell (row, column)
    x0, y0 = (column - 1) * ZOOM, TOP + (row - 1) * ZOOM
    pen.rectangle([x0, y0, x0 + 3 * ZOOM, y0 + 3 * ZOOM], outline=(220, 30, 30), width=3)
    mx, my = side * ZOOM + GAP + column * ZOOM, TOP + row * ZOOM
    pen.rectangle([mx - 1, my - 1, mx + ZOOM + 1, my + ZOOM + 1], outline=(220, 30, 30), width=3)
    pen.line([x0 + 3 * ZOOM, y0 + 1.5 * ZOOM, mx, my + ZOOM / 2], fill=(220, 30, 30), width=2)
    return sheet


def arithmetic(result: dict, channel: int, row: int, column: int) -> str:
    """The position's sum written out: a table per input channel of pixel x weight, then the total."""
    lines = [f"**Filter {channel} at row {row}, column {column}**: each pixel under the window times its weight:\n"]
    for index, (patch, kernel) in enumerate(zip(result["patch"], result["kernel"])):
        if len(result["patch"]) > 1:
            lines.append(f"Input channel {index}:\n")
        lines.append("| | " + " | ".join(f"column {c}" for c in range(patch.shape[1])) + " |")
        lines.append("|---" * (patch.shape[1] + 1) + "|")
        for r in range(patch.shape[0]):
            cells = [
                f"{patch[r, c]:.2f} × {kernel[r, c]:+.2f} = **{patch[r, c] * kernel[r, c]:+.2f}**"
                for c in range(patch.shape[1])
            ]
            lines.append(f"| row {r} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(
        f"Sum of the products {float(result['products'].sum()):+.3f}, plus the bias {result['bias']:+.3f}: "
        f"**{result['sum']:+.3f}**. ReLU keeps it if positive: **{result['relu']:.3f}**, the map's value here."
    )
    return "\n".join(lines)


def make_kernel_view(processor, model):
    channels = first_convolution(model).out_channels

    def prepare(sketch) -> torch.Tensor:
        composite = None if sketch is None else sketch.get("composite")
        image = None if composite is None else np.asarray(composite)
        if image is None or image.size == 0 or is_blank(image):
            raise Refused("Draw a digit first.")
        try:
            return processor(image, return_tensors="pt")["pixel_values"]
        except ValueError as error:
            raise Refused(str(error)) from None

    def view(pixel_values, channel, row, column, shown=None):
        fmap = feature_map(model, pixel_values, channel)
        picture = kernel_picture(pixel_values[0].float().numpy().mean(0), fmap, row, column, shown)
        return png_file(picture), arithmetic(position(model, pixel_values, channel, row, column), channel, row, column)

    def checked(pixel_values, channel, row, column):
        if pixel_values is None:
            raise Refused("Press *Follow the filter* first.")
        side = pixel_values.shape[-1]
        channel = bounded(channel, 0, channels - 1, f"Pick a filter from 0 to {channels - 1}.")
        row = bounded(row, 0, side - 1, f"Rows run from 0 to {side - 1}.")
        column = bounded(column, 0, side - 1, f"Columns run from 0 to {side - 1}.")
        return channel, row, column

    def follow(sketch, channel, row, column):
        """The drawing as the CNN sees it, with the filter at (row, column)."""
        pixel_values = prepare(sketch)
        channel, row, column = checked(pixel_values, channel, row, column)
        return pixel_values, *view(pixel_values, channel, row, column)

    def pick(pixel_values, channel, event: gr.SelectData):
        """A click on the input or on the map moves the filter there."""
        if pixel_values is None or event.index is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        side = pixel_values.shape[-1]
        x, y = event.index
        x = x - side * ZOOM - GAP if x >= side * ZOOM + GAP else x
        row, column = min(max((y - TOP) // ZOOM, 0), side - 1), min(max(x // ZOOM, 0), side - 1)
        channel, row, column = checked(pixel_values, channel, row, column)
        return row, column, *view(pixel_values, channel, row, column)

    def at(pixel_values, channel, row, column):
        """The filter where the sliders put it."""
        if pixel_values is None:
            return gr.skip(), gr.skip()
        return view(pixel_values, *checked(pixel_values, channel, row, column))

    def slide(pixel_values, channel, row):
        """The filter slides along the row, the map filling in as it goes."""
        channel, row, _ = checked(pixel_values, channel, row, 0)
        side = pixel_values.shape[-1]
        for column in range(side):
            yield column, *view(pixel_values, channel, row, column, shown=row * side + column + 1)
            time.sleep(SLIDE_SECONDS)

    return follow, pick, at, slide


def kernel_section(processor, model, sketchpad) -> None:
    """The sliding filter's part of the CNN's inside view, on the drawing on `sketchpad`."""
    follow, pick, at, slide = make_kernel_view(processor, model)
    conv = first_convolution(model)
    gr.Markdown(
        "### One filter, one position at a time\nA convolution's filter is a small grid of weights. At each position "
        "it multiplies the pixels under it by its weights, adds them up with its bias, and the ReLU keeps the sum "
        "if it is positive: that is one value of its feature map. Press *Follow the filter*, then click anywhere "
        "on the input or the map to move it, or *Slide along the row* to watch it fill the map in."
    )
    pixel_state = gr.State(None)
    with gr.Row():
        channel = gr.Slider(0, conv.out_channels - 1, value=0, step=1, label="Filter", elem_id="kernel-filter")
        row = gr.Slider(0, 27, value=14, step=1, label="Row", elem_id="kernel-row")
        column = gr.Slider(0, 27, value=14, step=1, label="Column", elem_id="kernel-column")
    with gr.Row():
        follow_button = gr.Button("Follow the filter", variant="primary", elem_id="kernel-follow")
        slide_button = gr.Button("Slide along the row", elem_id="kernel-slide")
    picture = gr.Image(label="The filter over the input", show_label=False, elem_id="kernel-picture")
    sums = gr.Markdown(elem_id="kernel-arithmetic")
    follow_button.click(follow, [sketchpad, channel, row, column], [pixel_state, picture, sums], api_name="kernel")
    picture.select(pick, [pixel_state, channel], [row, column, picture, sums], api_name=False)
    for slider in (channel, row, column):  # moved by the visitor (not by the slide, which moves the column itself)
        slider.input(at, [pixel_state, channel, row, column], [picture, sums], api_name=False)
    slide_button.click(
        slide, [pixel_state, channel, row], [column, picture, sums], api_name="kernel_slide", preprocess=False
    )
