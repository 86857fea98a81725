"""Pictures of the Playground's numbers: weights, activation functions, layers and curves, coloured as TensorFlow
Playground draws values (orange below zero, white at zero, blue above)."""

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

COMPARE_COLORS = {
    "ReLU": (8, 119, 189),
    "sigmoid": (44, 160, 44),
    "tanh": (148, 103, 189),
    "none (linear)": (245, 147, 34),
}
ZOOM = 8
INK, GRID, MUTED = (30, 30, 30), (228, 228, 228), (100, 100, 100)
TRAIN_COLOR, TEST_COLOR = (245, 147, 34), (8, 119, 189)


def font(size: int = 14) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


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
    scales = np.abs(tiles).reshape(n, -1).max(1)
    scaled = tiles / np.where(scales > 0, scales, 1.0)[:, None, None]
    padded = np.zeros((rows * columns, h, w))
    padded[:n] = scaled
    colored = colorize(padded, 1.0)  # (rows * columns, h, w, 3)
    colored[n:] = 230  # the empty places of the last row
    big = colored.reshape(rows, columns, h, w, 3).repeat(zoom, 2).repeat(zoom, 3)  # (rows, columns, h*zoom, w*zoom, 3)
    sheet = np.full((rows, h * zoom + gap, columns, w * zoom + gap, 3), 230, dtype=np.uint8)
    sheet[:, gap:, :, gap:] = big.transpose(0, 2, 1, 3, 4)
    sheet = sheet.reshape(rows * (h * zoom + gap), columns * (w * zoom + gap), 3)
    return Image.fromarray(np.pad(sheet, ((0, gap), (0, gap), (0, 0)), constant_values=230))


def incoming_weights(model) -> np.ndarray:
    """The first layer's weights as (units, 28, 28): each unit's 784 incoming weights laid out as the image (the
    output digits' when there is no hidden layer)."""
    first = (model.hidden_layers[0] if len(model.hidden_layers) else model.classifier).weight.detach().float()
    return first.numpy().reshape(len(first), 28, 28)


def headroom(image: Image.Image, pixels: int = 34) -> Image.Image:
    """`image` below a white band, where the page's label of the picture sits without hiding any of it."""
    padded = Image.new("RGB", (image.width, image.height + pixels), "white")
    padded.paste(image, (0, pixels))
    return padded


def weight_pictures(model) -> tuple[Image.Image, Image.Image]:
    """Every first-layer unit's incoming weights as a 28x28 picture, and the weights into each output digit:
    pictures too when there is no hidden layer, else a map with a row per digit and a column per last hidden unit."""
    tiles = incoming_weights(model)
    first_picture = headroom(tile_grid(tiles, min(16, len(tiles)), zoom=2))
    if not len(model.hidden_layers):
        return first_picture, headroom(tile_grid(tiles, 10, zoom=3))
    return first_picture, headroom(output_weight_map(model.classifier.weight.detach().float().numpy()))


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


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    span = max(high - low, 1e-9)
    raw = span / count
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return np.arange(np.floor(low / step) * step, high + step * 0.5, step)


def panel(
    pen: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    series: list[tuple[str, tuple, list[tuple[float, float]]]],
    x_max: float,
    y_range: tuple[float, float],
    title: str,
    y_format: str,
    x_title: str = "epoch",
) -> None:
    """One chart drawn into `box` (left, top, right, bottom): a title, labelled axes and gridlines, and each series
    (name, colour, points) as a line, its last point as a dot, its name and last value in a legend."""
    left, top, right, bottom = box
    plot_left, plot_top, plot_right, plot_bottom = left + 58, top + 30, right - 10, bottom - 44
    low, high = y_range
    pen.text((left + 4, top + 2), title, fill=INK, font=font(15))

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        px = plot_left + x / x_max * (plot_right - plot_left)
        py = plot_bottom - (min(max(y, low), high) - low) / (high - low) * (plot_bottom - plot_top)
        return px, py

    for tick in nice_ticks(low, high, 4):
        if low - 1e-9 <= tick <= high + 1e-9:
            y = to_pixel(0, tick)[1]
            pen.line([(plot_left, y), (plot_right, y)], fill=GRID)
            pen.text((plot_left - 6, y), format(tick, y_format), fill=MUTED, font=font(12), anchor="rm")
    for tick in nice_ticks(0, x_max, 5):
        if tick <= x_max + 1e-9:
            x = to_pixel(tick, low)[0]
            pen.line([(x, plot_top), (x, plot_bottom)], fill=GRID)
            pen.text((x, plot_bottom + 6), f"{tick:g}", fill=MUTED, font=font(12), anchor="mt")
    pen.rectangle([plot_left, plot_top, plot_right, plot_bottom], outline=(190, 190, 190))
    pen.text(((plot_left + plot_right) / 2, bottom - 18), x_title, fill=MUTED, font=font(13), anchor="mt")
    legend_x = left + 16 + pen.textlength(title, font=font(15))  # beside the title, clear of the curves
    for name, color, points in series:
        pixels = [to_pixel(x, y) for x, y in points if y is not None]
        if len(pixels) > 1:
            pen.line(pixels, fill=color, width=2)
        for x, y in pixels[-1:]:
            pen.ellipse([x - 3.5, y - 3.5, x + 3.5, y + 3.5], fill=color)
        last = [y for _, y in points if y is not None][-1:]
        label = f"{name} {format(last[0], y_format)}" if last else name
        pen.rectangle([legend_x, top + 5, legend_x + 12, top + 15], fill=color)
        pen.text((legend_x + 17, top + 10), label, fill=INK, font=font(13), anchor="lm")
        legend_x += 24 + pen.textlength(label, font=font(13))


def training_chart(
    history: list[dict], epochs: float, eval_count: int, width: int = 820, height: int = 300, noun: str = "test digits"
):
    """A run's curves: the training loss and the loss on the evaluation set, and the accuracy on it, over epochs."""
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    x_max = max(epochs, max((h["epoch"] for h in history), default=0)) or 1
    train = [(h["epoch"], h["loss"]) for h in history if h["loss"] is not None]
    test = [(h["epoch"], h["test_loss"]) for h in history]
    losses = [y for _, y in train + test]
    loss_high = float(nice_ticks(0, max(losses, default=1.0) * 1.05, 4)[-1]) if losses else 1.0
    accuracies = [h["test_accuracy"] for h in history]
    floor = min(accuracies, default=0.0)
    acc_low = 0.0 if floor < 0.5 else float(np.floor(floor * 10) / 10)
    half = width // 2
    panel(
        pen,
        (0, 0, half - 8, height),
        [("training", TRAIN_COLOR, train), ("test", TEST_COLOR, test)],
        x_max,
        (0.0, loss_high),
        "Loss (cross-entropy)",
        ".2f",
    )
    panel(
        pen,
        (half + 8, 0, width, height),
        [("test", TEST_COLOR, [(h["epoch"], h["test_accuracy"]) for h in history])],
        x_max,
        (acc_low, 1.0),
        f"Accuracy on the {eval_count:,} {noun}",
        ".0%" if acc_low < 0.9 else ".1%",
    )
    return image


def legend_bar(scale: float, width: int = 260, label: str = "weight") -> Image.Image:
    """The colour scale: orange at -scale, white at 0, blue at +scale, labelled."""
    bar = Image.new("RGB", (width, 40), "white")
    ramp = colorize(np.linspace(-scale, scale, width - 80)[None, :], scale).repeat(12, 0)
    bar.paste(Image.fromarray(ramp), (40, 4))
    pen = ImageDraw.Draw(bar)
    pen.text((40, 20), f"{-scale:.2g}", fill=MUTED, font=font(12), anchor="mt")
    pen.text((width / 2, 20), f"0 ({label})", fill=MUTED, font=font(12), anchor="mt")
    pen.text((width - 40, 20), f"+{scale:.2g}", fill=MUTED, font=font(12), anchor="mt")
    return bar


def output_weight_map(weights: np.ndarray, max_width: int = 760) -> Image.Image:
    """The weights into the ten output digits: a labelled row per digit, a column per unit of the last hidden layer,
    with the colour scale below."""
    digits, units = weights.shape
    cell_w = max(1, min(16, (max_width - 60) // units))
    cell_h = 18
    scale = float(np.abs(weights).max()) or 1.0
    cells = Image.fromarray(colorize(weights, scale).repeat(cell_h, 0).repeat(cell_w, 1))
    legend = legend_bar(scale)
    sheet = Image.new(
        "RGB", (max(60 + cells.width + 10, legend.width + 60), cells.height + 30 + legend.height + 6), "white"
    )
    sheet.paste(cells, (60, 4))
    pen = ImageDraw.Draw(sheet)
    for digit in range(digits):
        pen.text((52, 4 + digit * cell_h + cell_h / 2), str(digit), fill=INK, font=font(13), anchor="rm")
    pen.text((6, 4 + cells.height / 2), "digit", fill=MUTED, font=font(12), anchor="lm")
    pen.text(
        (60, cells.height + 10), f"last hidden layer's units 0-{units - 1}, left to right", fill=MUTED, font=font(12)
    )
    sheet.paste(legend, (60, cells.height + 30))
    return sheet
