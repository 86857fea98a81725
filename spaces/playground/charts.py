"""Pictures of the Playground's numbers: weights, activation functions, layers and curves, coloured as TensorFlow
Playground draws values (orange below zero, white at zero, blue above)."""

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw

COMPARE_COLORS = {
    "ReLU": (8, 119, 189),
    "sigmoid": (44, 160, 44),
    "tanh": (148, 103, 189),
    "none (linear)": (245, 147, 34),
}
ZOOM = 8
# Colours of a value: orange for negative, white for zero, blue for positive (as TensorFlow Playground draws them).
NEGATIVE, POSITIVE = np.array([245, 147, 34]), np.array([8, 119, 189])


def colorize(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Values as RGB: orange below zero, white at zero, blue above; `scale` (default: the largest magnitude) is full
    colour."""
    scale = scale or float(np.abs(values).max()) or 1.0
    t = np.clip(values / scale, -1, 1)[..., None]
    white = np.array([255, 255, 255])
    rgb = np.where(t < 0, white + (NEGATIVE - white) * -t, white + (POSITIVE - white) * t)
    return rgb.astype(np.uint8)


def tile_grid(tiles: np.ndarray, columns: int, zoom: int = 2, gap: int = 2) -> Image.Image:
    """(n, h, w) values as a grid of coloured tiles, each scaled to its own largest magnitude."""
    n, h, w = tiles.shape
    rows = -(-n // columns)
    sheet = np.full((rows * (h * zoom + gap) + gap, columns * (w * zoom + gap) + gap, 3), 230, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        image = colorize(tile).repeat(zoom, 0).repeat(zoom, 1)
        y, x = gap + row * (h * zoom + gap), gap + column * (w * zoom + gap)
        sheet[y : y + h * zoom, x : x + w * zoom] = image
    return Image.fromarray(sheet)


def incoming_weights(model) -> np.ndarray:
    """The first layer's weights as (units, 28, 28): each unit's 784 incoming weights laid out as the image (the
    output digits' when there is no hidden layer)."""
    first = (model.hidden_layers[0] if len(model.hidden_layers) else model.classifier).weight.detach().float()
    return first.numpy().reshape(len(first), 28, 28)


def weight_pictures(model) -> tuple[Image.Image, Image.Image]:
    """Every first-layer unit's incoming weights as a 28x28 picture, and the weights into each output digit:
    pictures too when there is no hidden layer, else a map with a row per digit and a column per last hidden unit."""
    tiles = incoming_weights(model)
    first_picture = tile_grid(tiles, min(16, len(tiles)), zoom=2)
    if not len(model.hidden_layers):
        return first_picture, tile_grid(tiles, 10, zoom=3)
    output = model.classifier.weight.detach().float().numpy()
    cell = max(2, min(12, 640 // output.shape[1]))
    return first_picture, Image.fromarray(colorize(output).repeat(12, 0).repeat(cell, 1))


ACTIVATION_FUNCTIONS = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}


def activation_curve(activation: str, weighted_sums: np.ndarray, size: int = 260) -> Image.Image:
    """The activation function's curve, and where this layer's weighted sums fall on it (a dot per unit)."""
    function = ACTIVATION_FUNCTIONS[activation]
    span = max(4.0, float(np.abs(weighted_sums).max()) * 1.1)
    xs = torch.linspace(-span, span, 200)
    ys = function(xs)
    low, high = min(float(ys.min()), -1.0), max(float(ys.max()), 1.0)
    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)

    def to_pixel(x, y):
        return (x + span) / (2 * span) * (size - 20) + 10, size - 10 - (y - low) / (high - low) * (size - 20)

    pen.line([to_pixel(-span, 0), to_pixel(span, 0)], fill=(200, 200, 200))
    pen.line([to_pixel(0, low), to_pixel(0, high)], fill=(200, 200, 200))
    pen.line([to_pixel(float(x), float(y)) for x, y in zip(xs, ys)], fill=(60, 60, 60), width=2)
    outputs = function(torch.from_numpy(weighted_sums)).numpy()
    for x, y in zip(weighted_sums, outputs):
        px, py = to_pixel(float(x), float(y))
        pen.ellipse([px - 3, py - 3, px + 3, py + 3], fill=tuple(POSITIVE) if x >= 0 else tuple(NEGATIVE))
    pen.text((size // 2 + 6, size - 24), f"{activation}(x)", fill=(0, 0, 0))
    return image


def accuracy_chart(rows: list[dict], epochs: int, width: int = 760, height: int = 340) -> Image.Image:
    """The comparison's test-accuracy curves, one colour per activation (COMPARE_COLORS), epochs along x."""
    left, right, top, bottom = 56, 170, 16, 40
    values = [row["test accuracy"] for row in rows] or [0.9]
    low = min(0.9, np.floor(min(values) * 20) / 20)
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)

    def to_pixel(epoch: float, value: float) -> tuple[float, float]:
        x = left + epoch / epochs * (width - left - right)
        return x, top + (1 - (value - low) / (1 - low)) * (height - top - bottom)

    for tick in np.arange(low, 1.0001, 0.05 if 1 - low > 0.2 else 0.01):
        y = to_pixel(0, tick)[1]
        pen.line([(left, y), (width - right, y)], fill=(230, 230, 230))
        pen.text((6, y - 6), f"{tick:.0%}" if 1 - low > 0.2 else f"{tick:.1%}", fill=(90, 90, 90))
    for epoch in range(epochs + 1):
        x = to_pixel(epoch, low)[0]
        pen.line([(x, top), (x, height - bottom)], fill=(230, 230, 230))
        pen.text((x - 3, height - bottom + 6), str(epoch), fill=(90, 90, 90))
    pen.text(((width - right) / 2, height - 16), "epoch", fill=(60, 60, 60))
    for index, (name, color) in enumerate(COMPARE_COLORS.items()):
        points = [to_pixel(row["epoch"], row["test accuracy"]) for row in rows if row["activation"] == name]
        if len(points) > 1:
            pen.line(points, fill=color, width=3)
        for x, y in points[-1:]:
            pen.ellipse([x - 4, y - 4, x + 4, y + 4], fill=color)
        last = [row["test accuracy"] for row in rows if row["activation"] == name][-1:]
        label = f"{name}: {last[0]:.1%}" if last else name
        y = top + 10 + index * 22
        pen.rectangle([width - right + 14, y, width - right + 30, y + 12], fill=color)
        pen.text((width - right + 36, y), label, fill=(0, 0, 0))
    return image


def strip(values: np.ndarray, cell: int = 10) -> Image.Image:
    """A row of values as coloured cells (wrapped into rows of 32)."""
    columns = min(32, len(values))
    rows = -(-len(values) // columns)
    padded = np.zeros(rows * columns)
    padded[: len(values)] = values
    return Image.fromarray(colorize(padded.reshape(rows, columns), float(np.abs(values).max()) or 1.0)).resize(
        (columns * cell, rows * cell), Image.NEAREST
    )


def enlarge(pixels: torch.Tensor) -> Image.Image:
    """The 784 inputs as the 28x28 picture they are, enlarged."""
    array = pixels.reshape(28, 28).numpy()
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return Image.fromarray((scaled * 255).astype(np.uint8)).resize((28 * ZOOM, 28 * ZOOM), Image.NEAREST)


def layer_picture(activation: str, weighted_sums: np.ndarray, activations: np.ndarray) -> Image.Image:
    """One hidden layer of a forward pass: the activation function with this layer's weighted sums on it, and beside
    it the weighted sums and the activations of its units, a coloured cell each (unit 0 top left, rows of 32)."""
    curve = activation_curve(activation, weighted_sums)
    sums, outputs = strip(weighted_sums), strip(activations)
    width = curve.width + 16 + max(sums.width, 300)
    sheet = Image.new("RGB", (width, max(curve.height, 2 * sums.height + 60)), "white")
    sheet.paste(curve, (0, 0))
    pen = ImageDraw.Draw(sheet)
    x = curve.width + 16
    pen.text((x, 4), f"weighted sums x (from {weighted_sums.min():.1f} to {weighted_sums.max():.1f})", fill=(0, 0, 0))
    sheet.paste(sums, (x, 20))
    pen.text(
        (x, 32 + sums.height),
        f"activations f(x) (from {activations.min():.2f} to {activations.max():.2f})",
        fill=(0, 0, 0),
    )
    sheet.paste(outputs, (x, 48 + sums.height))
    return sheet


def curves(history: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training loss and the test accuracy so far, as the two plots draw them."""
    frame = pd.DataFrame(history, columns=["epoch", "loss", "test_accuracy"]).astype(float)
    return frame[["epoch", "loss"]], frame[["epoch", "test_accuracy"]]
