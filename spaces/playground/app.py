"""See a network learn: the MNIST Playground.

Train the real `MnistMlpForImageClassification` live on MNIST (choose its layers, activation, learning rate, batch
size and optimizer), see its weights change, follow one drawn digit through a forward pass, take one step of
backward propagation on it, and compare activation functions side by side. The model you train can be downloaded
as a `save_pretrained` folder or pushed to the Hub.

Runs locally (`python spaces/playground/app.py`) and as a Hugging Face Space. MODEL_ID (a Hub id or a local folder,
by default the MLP that ships with hfnets) gives the network's code, its image processor and the trained model the
page starts with; it loads with `trust_remote_code=True`, so hfnets need not be installed. DATASET (default
`ylecun/mnist`, a Hub id or a local copy) is what the networks train and are tested on.
"""

import contextlib
import copy
import io
import os
import queue
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-mlp"
DEFAULT_DATASET = "ylecun/mnist"
# What a learner may ask for: a few hidden layers of at most MAX_WIDTH units, a few epochs.
MAX_HIDDEN_LAYERS = 3
MAX_WIDTH = 512
MAX_EPOCHS = 10
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
ACTIVATIONS = {"ReLU": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "none (linear)": "linear"}
OPTIMIZERS = ["SGD", "Adam"]
COMPARE_COLORS = {
    "ReLU": (8, 119, 189),
    "sigmoid": (44, 160, 44),
    "tanh": (148, 103, 189),
    "none (linear)": (245, 147, 34),
}
TABLE_COLUMNS = ["activation", "test accuracy", "seconds"]
COMPARE_SETTINGS = {"hidden_sizes": [128], "learning_rate": 1e-3, "batch_size": 64, "optimizer": "Adam", "seed": 0}
UPDATE_SECONDS = 1.0  # how often a training run redraws its curves and weights
CURVE_TEST_DIGITS = 2000  # the curves' test accuracy is measured on this many test digits (the final one on all)
TOP_NEURONS = 8
ZOOM = 8
# Colours of a value: orange for negative, white for zero, blue for positive (as TensorFlow Playground draws them).
NEGATIVE, POSITIVE = np.array([245, 147, 34]), np.array([8, 119, 189])


def shipped_model() -> str | None:
    """The shipped model's folder, if it is here."""
    return str(SHIPPED_MODEL) if (SHIPPED_MODEL / "config.json").is_file() else None


# ---------------------------------------------------------------------------------------------------------------
# The model and the data


class Playground:
    """What every visitor shares: the network's code and image processor (from MODEL_ID), the trained model the page
    starts with, and MNIST decoded once into tensors."""

    def __init__(self, model_id: str | None = None, dataset: str | None = None):
        self.model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
        if self.model_id is None:
            raise RuntimeError("No model: set MODEL_ID to a Hub model id or a local folder of the hfnets MNIST MLP.")
        self.dataset = dataset or os.environ.get("DATASET") or DEFAULT_DATASET
        self.processor = AutoImageProcessor.from_pretrained(self.model_id, trust_remote_code=True)
        self.base_config = AutoConfig.from_pretrained(self.model_id, trust_remote_code=True)
        self.start_model = AutoModelForImageClassification.from_pretrained(self.model_id, trust_remote_code=True)
        self.start_model.eval()
        self._data = None
        self._data_lock = threading.Lock()
        # Decode the digits in the background now, so that they are ready by the time a visitor presses Train.
        threading.Thread(target=self._prefetch, daemon=True).start()

    def _prefetch(self) -> None:
        with contextlib.suppress(Exception):  # a dataset that cannot load is reported to the visitor who trains
            self.data()

    def new_model(self, hidden_sizes: list[int], activation: str, seed: int):
        """A new, untrained network of the shipped model's class, initialized from `seed`."""
        values = {**self.base_config.to_dict(), "hidden_sizes": hidden_sizes, "hidden_act": activation, "dropout": 0.0}
        config = type(self.base_config)(**values)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = AutoModelForImageClassification.from_config(config, trust_remote_code=True)
        return model.eval()

    def data(self) -> dict[str, torch.Tensor]:
        """The dataset's train and test splits as normalized (N, 784) float tensors and their labels, decoded once
        (from the stored PNG bytes straight to arrays: several times faster than decoding through `datasets`)."""
        with self._data_lock:
            if self._data is None:
                from datasets import Image as ImageFeature
                from datasets import load_dataset

                splits = load_dataset(self.dataset)
                mean, std = float(np.mean(self.processor.image_mean)), float(np.mean(self.processor.image_std))
                data = {}
                for name in ("train", "test"):
                    if name not in splits or not {"image", "label"} <= set(splits[name].column_names):
                        raise RuntimeError(
                            f"{self.dataset} needs `train` and `test` splits with `image` and `label` columns, as "
                            "ylecun/mnist has."
                        )
                    split = splits[name].cast_column("image", ImageFeature(decode=False))
                    arrays = [decode_digit(stored) for stored in split["image"]]
                    images = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), -1).float() / 255
                    data[name] = ((images - mean) / std, torch.tensor(split["label"], dtype=torch.long))
                self._data = data
            return self._data

    def pixels(self, image) -> torch.Tensor:
        """A drawing as the network sees it: the image processor crops, scales and centers it as MNIST digits are."""
        return self.processor(image, return_tensors="pt")["pixel_values"].reshape(1, -1)


def decode_digit(stored: dict) -> np.ndarray:
    """A stored image ({"bytes": ..., "path": ...}) as a 28x28 grayscale uint8 array."""
    source = io.BytesIO(stored["bytes"]) if stored.get("bytes") else stored["path"]
    with Image.open(source) as image:
        gray = image.convert("L")
        if gray.size != (28, 28):
            gray = gray.resize((28, 28), Image.BILINEAR)
        return np.asarray(gray)


def accuracy(model, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).logits.argmax(-1) == labels).float().mean())


def train(model, data, learning_rate: float, batch_size: int, optimizer_name: str, epochs: int, seed: int, stop=None):
    """Train `model` in place, yielding a progress record about every UPDATE_SECONDS and one at the end of each
    epoch: {epoch (fractional), step, loss (mean since the last record), test_accuracy (on the first
    CURVE_TEST_DIGITS test digits), seconds, epoch_seconds}. Setting the `stop` event ends it after the step."""
    train_images, train_labels = data["train"]
    test_images, test_labels = (part[:CURVE_TEST_DIGITS] for part in data["test"])
    optimizer_class = torch.optim.Adam if optimizer_name == "Adam" else torch.optim.SGD
    optimizer = optimizer_class(model.parameters(), lr=learning_rate)
    shuffle = torch.Generator().manual_seed(seed)
    step, started, last_report, losses = 0, time.perf_counter(), time.perf_counter(), []
    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        order = torch.randperm(len(train_labels), generator=shuffle)
        model.train()
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            loss = model(train_images[batch], labels=train_labels[batch]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.detach())
            step += 1
            if stop is not None and stop.is_set():
                model.eval()
                return
            end_of_epoch = first + batch_size >= len(order)
            if end_of_epoch or time.perf_counter() - last_report > UPDATE_SECONDS:
                model.eval()
                record = {
                    "epoch": round(epoch + (first + len(batch)) / len(order), 3),
                    "step": step,
                    "loss": float(torch.stack(losses).mean()),
                    "test_accuracy": accuracy(model, test_images, test_labels),
                    "seconds": round(time.perf_counter() - started, 2),
                    "epoch_seconds": round(time.perf_counter() - epoch_start, 2) if end_of_epoch else None,
                }
                model.train()
                losses, last_report = [], time.perf_counter()
                yield record
    model.eval()


def in_background(records, stop: threading.Event):
    """Run a training generator in a thread of its own, so that drawing the page never pauses the training; yield,
    each time the page is ready for more, the list of records made since (at least one). Setting `stop` (as closing
    this generator does, when a visitor presses Stop) ends the training after its current step."""
    pending = queue.Queue()

    def work():
        try:
            for record in records:
                pending.put(record)
        except BaseException as error:  # handed to the page's thread, which reports it
            pending.put(error)
        pending.put(None)

    threading.Thread(target=work, daemon=True).start()
    try:
        done = False
        while not done:
            batch = [pending.get()]
            while not pending.empty():
                batch.append(pending.get_nowait())
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
            done = batch[-1] is None
            batch = [item for item in batch if item is not None]
            if batch:
                yield batch
    finally:
        stop.set()


# ---------------------------------------------------------------------------------------------------------------
# Pictures of numbers


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


# ---------------------------------------------------------------------------------------------------------------
# What the views compute


def forward_pass(model, pixels: torch.Tensor) -> dict:
    """Every number of one forward pass: each hidden layer's weighted sums and activations, the logits and the
    probabilities, and the last hidden layer's units that pushed the winning digit most (weight x activation)."""
    with torch.no_grad():
        layers = []
        hidden = pixels.float()
        for layer in model.hidden_layers:
            weighted = layer(hidden)
            hidden = model.activation(weighted)
            layers.append({"weighted_sums": weighted[0].numpy(), "activations": hidden[0].numpy()})
        logits = model.classifier(hidden)[0]
        probabilities = logits.softmax(-1)
        winner = int(logits.argmax())
        contributions = (model.classifier.weight[winner] * hidden[0]).numpy()
    top = np.argsort(-contributions)[:TOP_NEURONS] if layers else np.array([], dtype=int)
    return {
        "layers": layers,
        "logits": logits.numpy(),
        "probabilities": probabilities.numpy(),
        "winner": winner,
        "contributions": contributions,
        "top_units": top,
    }


def backward_step(model, pixels: torch.Tensor, label: int, learning_rate: float) -> dict:
    """One step of gradient descent on one example, in place: the loss, each layer's gradient (autograd's), the
    update (-learning_rate x gradient), and the prediction before and after."""
    target = torch.tensor([label])
    model.zero_grad()
    output = model(pixels, labels=target)
    before = output.logits.detach().softmax(-1)[0].numpy()
    output.loss.backward()
    gradients = {}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            gradients[name] = parameter.grad.detach().clone()
            parameter -= learning_rate * parameter.grad
    model.zero_grad()
    with torch.no_grad():
        after_output = model(pixels, labels=target)
    return {
        "loss_before": output.loss.item(),
        "loss_after": after_output.loss.item(),
        "before": before,
        "after": after_output.logits.softmax(-1)[0].numpy(),
        "gradients": gradients,
        "learning_rate": learning_rate,
    }


# ---------------------------------------------------------------------------------------------------------------
# The app


def check_architecture(hidden_layers, widths) -> list[int]:
    count = int(hidden_layers)
    if not 0 <= count <= MAX_HIDDEN_LAYERS:
        raise gr.Error(f"Choose 0 to {MAX_HIDDEN_LAYERS} hidden layers.")
    sizes = [int(w) for w in widths[:count]]
    if any(not 1 <= w <= MAX_WIDTH for w in sizes):
        raise gr.Error(f"Each hidden layer has 1 to {MAX_WIDTH} units.")
    return sizes


def check_training(learning_rate, batch_size, epochs) -> tuple[float, int, int]:
    learning_rate, epochs = float(learning_rate), int(epochs)
    if not (0 < learning_rate <= 1):
        raise gr.Error("The learning rate must be above 0 and at most 1.")
    if int(batch_size) not in BATCH_SIZES:
        raise gr.Error(f"Choose a batch size among {BATCH_SIZES}.")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise gr.Error(f"Train for 1 to {MAX_EPOCHS} epochs.")
    return learning_rate, int(batch_size), epochs


def describe(model) -> str:
    sizes = "-".join(str(n) for n in [model.config.input_size, *model.config.hidden_sizes, model.config.num_labels])
    name = {v: k for k, v in ACTIVATIONS.items()}.get(model.config.hidden_act, model.config.hidden_act)
    return f"{sizes}, {name}" if model.config.hidden_sizes else f"{sizes} (no hidden layer)"


def drawing(sketch) -> Image.Image:
    composite = None if sketch is None else sketch.get("composite")
    array = None if composite is None else np.asarray(composite)
    if array is None or array.size == 0 or (array.ndim == 3 and array.shape[-1] == 4 and array[..., 3].max() == 0):
        raise gr.Error("Draw a digit first.")
    flat = array.reshape(-1, array.shape[-1]) if array.ndim == 3 else array.reshape(-1, 1)
    if (flat == flat[0]).all():
        raise gr.Error("Draw a digit first.")
    return Image.fromarray(array)


def probabilities_label(probabilities: np.ndarray) -> dict[str, float]:
    return {str(digit): float(p) for digit, p in enumerate(probabilities)}


def build_demo(model_id: str | None = None, dataset: str | None = None, playground: Playground | None = None):
    """The Playground's page; `playground` (what visitors share) is built from `model_id` and `dataset` if not
    given."""
    playground = playground or Playground(model_id, dataset)

    def session_model(model):
        return model if model is not None else _copy(playground.start_model)

    def digits():
        try:
            return playground.data()
        except (OSError, RuntimeError, ValueError) as error:  # no dataset there, or not one of digits
            raise gr.Error(f"The digits could not be loaded: {error}") from None

    def run_training(hidden_layers, width1, width2, width3, activation, learning_rate, batch_size, optimizer, epochs):
        sizes = check_architecture(hidden_layers, [width1, width2, width3])
        learning_rate, batch_size, epochs = check_training(learning_rate, batch_size, epochs)
        if activation not in ACTIVATIONS:
            raise gr.Error(f"Choose an activation among {list(ACTIVATIONS)}.")
        model = playground.new_model(sizes, ACTIVATIONS[activation], seed=0)
        history = []
        first, output = weight_pictures(model)
        yield (
            model,
            *curves(history),
            first,
            output,
            f"Training {describe(model)} (the first run waits for the digits)",
        )
        data = digits()
        stop = threading.Event()
        records = train(model, data, learning_rate, batch_size, optimizer, epochs, seed=0, stop=stop)
        for new in in_background(records, stop):
            history += new
            record = history[-1]
            first, output = weight_pictures(model)
            epoch_times = [r["epoch_seconds"] for r in history if r["epoch_seconds"] is not None]
            status = (
                f"{describe(model)}: epoch {record['epoch']:.2f} of {epochs}, loss {record['loss']:.3f}, "
                f"test accuracy {record['test_accuracy']:.2%}"
                + (f"; {np.mean(epoch_times):.1f} s per epoch" if epoch_times else "")
            )
            yield model, *curves(history), first, output, status
        final = accuracy(model, *data["test"])
        epoch_times = [r["epoch_seconds"] for r in history if r["epoch_seconds"] is not None]
        yield (
            model,
            *curves(history),
            first,
            output,
            f"**Done.** {describe(model)} after {epochs} epoch(s), {np.mean(epoch_times):.2f} s per epoch: test "
            f"accuracy **{final:.2%}** on "
            f"{len(data['test'][1]):,} test digits it never trained on. Draw a digit in *Forward pass* to try it.",
        )

    def show_weights(model):
        model = session_model(model)
        return weight_pictures(model)

    def run_forward(model, sketch):
        model = session_model(model)
        pixels = playground.pixels(drawing(sketch))
        result = forward_pass(model, pixels)
        layer_pictures = []
        for layer in result["layers"][:MAX_HIDDEN_LAYERS]:
            layer_pictures.append(layer_picture(model.config.hidden_act, layer["weighted_sums"], layer["activations"]))
        layer_pictures += [None] * (MAX_HIDDEN_LAYERS - len(layer_pictures))
        updates = [
            gr.update(value=picture, visible=picture is not None, label=f"Hidden layer {i + 1}")
            for i, picture in enumerate(layer_pictures)
        ]
        logits = pd.DataFrame({"digit": [str(d) for d in range(10)], "logit": result["logits"]})
        gallery = top_unit_gallery(model, result)
        explanation = forward_explanation(model, result)
        return [enlarge(pixels), *updates, logits, probabilities_label(result["probabilities"]), gallery, explanation]

    def run_backward(model, sketch, label, learning_rate):
        model = session_model(model)
        pixels = playground.pixels(drawing(sketch))
        if label is None:
            raise gr.Error("Choose the correct digit first.")
        result = backward_step(model, pixels, int(label), float(learning_rate))
        first_name = "hidden_layers.0.weight" if len(model.hidden_layers) else "classifier.weight"
        gradient = result["gradients"][first_name]
        norms = gradient.norm(dim=1)
        top = torch.argsort(norms, descending=True)[:TOP_NEURONS]
        tiles = gradient[top].reshape(len(top), 28, 28).numpy()
        gallery = [
            (tile_grid(tile[None], 1, zoom=4), f"unit {int(unit)}: |gradient| {float(norms[unit]):.3g}")
            for tile, unit in zip(tiles, top)
        ]
        layer_norms = "\n".join(
            f"| `{name}` | {float(g.norm()):.4g} | {float(result['learning_rate'] * g.norm()):.4g} |"
            for name, g in result["gradients"].items()
        )
        digit = int(label)
        text = (
            f"The correct digit is **{digit}**: its probability went from {result['before'][digit]:.1%} to "
            f"**{result['after'][digit]:.1%}**. The loss (cross-entropy, −log of that probability) was "
            f"**{result['loss_before']:.3f}** before this step, **{result['loss_after']:.3f}** after. Each weight "
            f"moved by −{result['learning_rate']} × its gradient:\n\n| layer | gradient size | update size |\n"
            f"|---|---|---|\n{layer_norms}"
        )
        return model, probabilities_label(result["before"]), probabilities_label(result["after"]), gallery, text

    def compare(epochs):
        epochs = int(epochs)
        if not 1 <= epochs <= MAX_EPOCHS:
            raise gr.Error(f"Compare over 1 to {MAX_EPOCHS} epochs.")
        data = digits()
        settings = COMPARE_SETTINGS
        rows, table = [], []
        for name, activation in ACTIVATIONS.items():
            model = playground.new_model(settings["hidden_sizes"], activation, settings["seed"])
            started = time.perf_counter()
            for record in train(
                model,
                data,
                settings["learning_rate"],
                settings["batch_size"],
                settings["optimizer"],
                epochs,
                settings["seed"],
            ):
                rows.append({"activation": name, "epoch": record["epoch"], "test accuracy": record["test_accuracy"]})
                yield accuracy_chart(rows, epochs), pd.DataFrame(table, columns=TABLE_COLUMNS)
            table.append([name, f"{accuracy(model, *data['test']):.2%}", round(time.perf_counter() - started, 1)])
            yield accuracy_chart(rows, epochs), pd.DataFrame(table, columns=TABLE_COLUMNS)

    def download(model):
        folder = saved_folder(session_model(model), playground.processor)
        archive = folder.parent / "mnist-mlp-playground.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for path in sorted(folder.iterdir()):
                zipped.write(path, f"mnist-mlp-playground/{path.name}")
        return str(archive)

    def push(model, repo_id, token):
        if not repo_id or not token:
            raise gr.Error("Give a repository id (user/name) and a Hub token with write access.")
        try:
            url = push_model(session_model(model), playground.processor, repo_id.strip(), token.strip())
        except Exception as error:  # the Hub's own message: bad token, no rights, bad name
            raise gr.Error(f"The push failed: {error}") from None
        return f"Pushed: {url}"

    widths_default = [128, 64, 32]
    with gr.Blocks(title="MNIST Playground") as demo:
        model_state = gr.State(None)
        gr.Markdown(
            "# See a network learn\nThe real `MnistMlpForImageClassification` on MNIST. It starts as the trained "
            f"{describe(playground.start_model)} network; train your own in **Train**, then look inside it."
        )
        with gr.Tab("Train"):
            gr.Markdown(
                "Each training step shows the network a batch of digits, measures how wrong its answers are (the "
                "loss) and nudges every weight against its gradient. The curves grow as it learns; the test "
                f"accuracy is measured on {CURVE_TEST_DIGITS:,} test digits it never trains on (the final figure on "
                "all 10,000)."
            )
            with gr.Row():
                with gr.Column(scale=1):
                    hidden_layers = gr.Slider(0, MAX_HIDDEN_LAYERS, value=1, step=1, label="Hidden layers")
                    widths = [
                        gr.Slider(1, MAX_WIDTH, value=w, step=1, label=f"Units in hidden layer {i + 1}")
                        for i, w in enumerate(widths_default)
                    ]
                    activation = gr.Radio(list(ACTIVATIONS), value="ReLU", label="Activation")
                    learning_rate = gr.Number(value=1e-3, label="Learning rate", minimum=1e-5, maximum=1)
                    batch_size = gr.Dropdown(BATCH_SIZES, value=64, label="Batch size")
                    optimizer = gr.Radio(OPTIMIZERS, value="Adam", label="Optimizer")
                    epochs = gr.Slider(1, MAX_EPOCHS, value=2, step=1, label="Epochs")
                    with gr.Row():
                        train_button = gr.Button("Train", variant="primary", elem_id="train")
                        stop_button = gr.Button("Stop", elem_id="stop")
                with gr.Column(scale=2):
                    status = gr.Markdown(elem_id="train-status")
                    with gr.Row():
                        loss_plot = gr.LinePlot(x="epoch", y="loss", label="Training loss", elem_id="loss-plot")
                        accuracy_plot = gr.LinePlot(
                            x="epoch", y="test_accuracy", y_lim=[0, 1], label="Test accuracy", elem_id="accuracy-plot"
                        )
                    first_weights = gr.Image(label="Weights into each hidden unit (28x28 each)", elem_id="weights")
                    output_weights = gr.Image(
                        label="Weights into each output digit (a row per digit, a column per last hidden unit)",
                        elem_id="output-weights",
                    )
            with gr.Accordion("Keep the model", open=False):
                gr.Markdown(
                    "Download it as a `save_pretrained` folder (it loads with `AutoModelForImageClassification."
                    "from_pretrained(folder, trust_remote_code=True)`), or push it to the Hub with your token."
                )
                download_button = gr.Button("Download the model", elem_id="download")
                download_file = gr.File(label="The model folder (zip)", elem_id="download-file")
                with gr.Row():
                    repo_id = gr.Textbox(label="Hub repository (user/name)")
                    token = gr.Textbox(label="Hub token (write)", type="password")
                push_button = gr.Button("Push to the Hub")
                push_result = gr.Markdown()
        with gr.Tab("Weights"):
            gr.Markdown(
                "A weight is the volume of one connection: blue weights add the pixel's ink to the unit's sum, "
                "orange ones subtract it. Each picture is one hidden unit's 784 incoming weights laid out as the "
                "image; after training many look like strokes or parts of digits."
            )
            weights_button = gr.Button("Show the current weights", elem_id="show-weights")
            weights_first = gr.Image(label="Weights into each hidden unit", elem_id="weights-first")
            weights_output = gr.Image(label="Weights into each output digit", elem_id="weights-output")
        with gr.Tab("Forward pass"):
            gr.Markdown(
                "Draw a digit. Each hidden unit adds up its inputs times its weights (the weighted sum), then the "
                "activation function decides its output. The ten outputs become probabilities through softmax."
            )
            with gr.Row():
                with gr.Column():
                    sketchpad = gr.Sketchpad(
                        label="Draw a digit", type="numpy", image_mode="RGBA", canvas_size=(320, 320), elem_id="canvas"
                    )
                    forward_button = gr.Button("Forward pass", variant="primary", elem_id="forward")
                    seen = gr.Image(label="The 784 inputs (28x28)", elem_id="inputs")
                with gr.Column():
                    layer_images = [
                        gr.Image(
                            label=f"Hidden layer {i + 1}", visible=False, elem_id=f"layer-{i + 1}", show_label=True
                        )
                        for i in range(MAX_HIDDEN_LAYERS)
                    ]
                    logits_plot = gr.BarPlot(x="digit", y="logit", label="The ten outputs before softmax (logits)")
                    probabilities = gr.Label(num_top_classes=3, label="After softmax", elem_id="probabilities")
                    top_units = gr.Gallery(label="Units that pushed the winner most", columns=4, elem_id="top-units")
                    explanation = gr.Markdown(elem_id="forward-explanation")
        with gr.Tab("Backward step"):
            gr.Markdown(
                "Learning from a mistake: the loss says how wrong the answer was, backward propagation gives every "
                "weight its share of the blame (its gradient), and each weight moves a little against it. Draw a "
                "digit in *Forward pass*, choose its correct label here and press the button; press again to keep "
                "learning from that one example. In the gradient pictures blue means the loss grows with that weight "
                "(the step lowers it), orange the reverse: each is the input digit, scaled by the unit's share of the "
                "blame."
            )
            with gr.Row():
                label = gr.Dropdown([str(d) for d in range(10)], label="The correct digit", elem_id="label")
                step_rate = gr.Slider(0.0001, 0.1, value=0.001, step=0.0001, label="Learning rate of this step")
                backward_button = gr.Button("Learn from this example", variant="primary", elem_id="backward")
                reset_button = gr.Button("Start over from the trained network", elem_id="reset")
            with gr.Row():
                before = gr.Label(num_top_classes=3, label="Prediction before", elem_id="before")
                after = gr.Label(num_top_classes=3, label="Prediction after", elem_id="after")
            backward_text = gr.Markdown(elem_id="backward-explanation")
            gradients = gr.Gallery(
                label="Gradient of the most-blamed units' incoming weights (the update is its opposite)",
                columns=8,
                height=240,
                elem_id="gradients",
            )
        with gr.Tab("Compare activations"):
            gr.Markdown(
                "The same 784-128-10 network, seed and budget (Adam, learning rate 0.001, batch 64) with each "
                "activation function. Without one, the layers collapse into a single linear map."
            )
            compare_epochs = gr.Slider(1, MAX_EPOCHS, value=2, step=1, label="Epochs each")
            compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
            compare_plot = gr.Image(label="Test accuracy as they train", format="png", elem_id="compare-plot")
            compare_table = gr.Dataframe(label="Final test accuracy", elem_id="compare-table")

        training = train_button.click(
            run_training,
            [hidden_layers, *widths, activation, learning_rate, batch_size, optimizer, epochs],
            [model_state, loss_plot, accuracy_plot, first_weights, output_weights, status],
            api_name="train",
            concurrency_limit=1,
            concurrency_id="training",
        )
        stop_button.click(None, None, None, cancels=[training])
        weights_button.click(show_weights, model_state, [weights_first, weights_output], api_name="weights")
        forward_button.click(
            run_forward,
            [model_state, sketchpad],
            [seen, *layer_images, logits_plot, probabilities, top_units, explanation],
            api_name="forward",
        )
        backward_button.click(
            run_backward,
            [model_state, sketchpad, label, step_rate],
            [model_state, before, after, gradients, backward_text],
            api_name="backward",
        )
        compare_button.click(
            compare,
            compare_epochs,
            [compare_plot, compare_table],
            api_name="compare",
            concurrency_limit=1,
            concurrency_id="training",
        )
        download_button.click(download, model_state, download_file, api_name="download")
        push_button.click(push, [model_state, repo_id, token], push_result, api_name=False)
        reset_button.click(lambda: None, None, model_state, api_name=False)
    return demo


def saved_folder(model, processor) -> Path:
    """The model and its image processor saved with `save_pretrained` into a new folder (code files included, so it
    loads with `trust_remote_code=True` anywhere)."""
    folder = Path(tempfile.mkdtemp(prefix="hfnets-playground-")) / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def push_model(model, processor, repo_id: str, token: str) -> str:
    """Upload the saved folder to the Hub repository `repo_id` (created if needed) in one commit; its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True)
    commit = api.upload_folder(
        folder_path=saved_folder(model, processor), repo_id=repo_id, commit_message="Trained in the hfnets Playground"
    )
    return commit.commit_url


def curves(history: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training loss and the test accuracy so far, as the two plots draw them."""
    frame = pd.DataFrame(history, columns=["epoch", "loss", "test_accuracy"]).astype(float)
    return frame[["epoch", "loss"]], frame[["epoch", "test_accuracy"]]


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


def top_unit_gallery(model, result) -> list:
    if not result["layers"]:
        return []
    last = len(result["layers"]) - 1
    activations = result["layers"][-1]["activations"]
    weights = model.classifier.weight[result["winner"]].detach().numpy()
    items = []
    for unit in result["top_units"]:
        caption = f"#{unit}: {weights[unit]:.2f} × {activations[unit]:.2f}"
        if last == 0:  # a unit of the first hidden layer: its incoming weights are a picture
            tile = model.hidden_layers[0].weight[unit].detach().numpy().reshape(1, 28, 28)
            items.append((tile_grid(tile, 1, zoom=4), caption))
        else:
            items.append((strip(np.array([result["contributions"][unit]]), cell=40), caption))
    return items


def forward_explanation(model, result) -> str:
    winner = result["winner"]
    p = result["probabilities"][winner]
    text = f"The network answers **{winner}** with probability **{p:.1%}** (logit {result['logits'][winner]:.2f}). "
    if result["layers"]:
        active = int((result["layers"][-1]["activations"] > 0).sum())
        size = len(result["layers"][-1]["activations"])
        bias = model.classifier.bias[winner].item()
        text += (
            f"Its logit is the bias {bias:.2f} plus, over the {size} units of the last hidden layer, weight × "
            f"activation ({active} of them above zero); the pictures show the units that added most, each captioned "
            "weight × activation."
        )
    return text


def _copy(model):
    """A visitor's own copy of a model (a few hundred kilobytes), so that one visitor's step leaves others' alone."""
    return copy.deepcopy(model)


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=4, max_size=64).launch()
