"""The Playground's two-dimensional mode, after TensorFlow Playground: the same MLP class with two inputs (a point's
x and y) and two classes, trained on a toy dataset of points, with every unit's output and the decision boundary
drawn over the plane as it learns."""

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw
from transformers import AutoModelForImageClassification

from ..inputs import Refused, bounded
from ..pictures import png_file
from .charts import INK, MUTED, NEGATIVE, POSITIVE, colorize, font, training_chart
from .handlers import PLAYING_NOTE
from .training import ACTIVATIONS, SPEEDS, Run

DATASETS = ["circle", "exclusive or", "two clusters", "spiral"]
POINTS = 400  # half to train on, half to test on
SPAN = 6.0  # the plane drawn runs from -SPAN to SPAN on both axes
MAX_UNITS, MAX_LAYERS, MAX_PLANE_EPOCHS = 8, 3, 500
RESOLUTION = 60  # the grid over the plane each unit is evaluated on
SIZE = 300  # pixels of the big picture; the units' pictures are THUMB pixels
THUMB = 64


def toy_points(name: str, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """POINTS points of the dataset `name` in [-SPAN, SPAN]^2 and their classes (0 orange, 1 blue); `noise` (0 to
    0.5) scatters them, as much as a fraction of the plane's half-width."""
    rng = np.random.default_rng(seed)
    n = POINTS
    if name == "circle":
        radius = np.concatenate([rng.uniform(0, 2.5, n // 2), rng.uniform(3.5, 5, n - n // 2)])
        angle = rng.uniform(0, 2 * np.pi, n)
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
        labels = (np.arange(n) < n // 2).astype(int)
    elif name == "exclusive or":
        points = rng.uniform(-5, 5, (n, 2))
        points += np.sign(points) * 0.3  # a margin along the axes
        labels = (points[:, 0] * points[:, 1] > 0).astype(int)
    elif name == "two clusters":
        labels = (np.arange(n) < n // 2).astype(int)
        centers = np.where(labels[:, None] == 1, [2.0, 2.0], [-2.0, -2.0])
        points = centers + rng.normal(0, 1.0, (n, 2))
    elif name == "spiral":
        t = np.tile(np.linspace(0.0, 1.0, n // 2), 2)
        labels = (np.arange(n) < n // 2).astype(int)
        angle = 1.75 * t * 2 * np.pi + np.pi * labels
        points = np.stack([5 * t * np.sin(angle), 5 * t * np.cos(angle)], 1)
    else:
        raise Refused(f"Choose a dataset among {DATASETS}.")
    points = points + rng.normal(0, noise * SPAN, points.shape)
    order = rng.permutation(n)
    return points[order].astype(np.float32), labels[order]


def plane_data(name: str, noise: float) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The points split in half: the first half to train on, the second to test on."""
    points, labels = toy_points(name, noise)
    x, y = torch.from_numpy(points), torch.from_numpy(labels)
    half = len(y) // 2
    return {"train": (x[:half], y[:half]), "test": (x[half:], y[half:])}


def plane_model(playground, hidden_sizes: list[int], activation: str, seed: int = 0):
    """The Playground's MLP class with two inputs (x, y) and two classes, initialized from `seed`."""
    values = {
        **playground.base_config.to_dict(),
        "hidden_sizes": hidden_sizes,
        "hidden_act": activation,
        "dropout": 0.0,
        "image_size": 1,
        "num_channels": 2,
        "id2label": {0: "orange", 1: "blue"},
        "label2id": {"orange": 0, "blue": 1},
    }
    config = type(playground.base_config)(**values)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForImageClassification.from_config(config, trust_remote_code=True)
    return model.eval()


def plane_grid() -> torch.Tensor:
    axis = torch.linspace(-SPAN, SPAN, RESOLUTION)
    ys, xs = torch.meshgrid(-axis, axis, indexing="ij")  # y upward, as on paper
    return torch.stack([xs.flatten(), ys.flatten()], 1)


def plane_picture(values: np.ndarray, size: int, scale: float = 1.0) -> Image.Image:
    """Values over the grid (RESOLUTION^2, in [-scale, scale]) as a picture `size` pixels wide, smoothly enlarged."""
    colours = colorize(values.reshape(RESOLUTION, RESOLUTION), scale)
    return Image.fromarray(colours).resize((size, size), Image.BILINEAR)


def to_pixel(point, size: int) -> tuple[float, float]:
    return (point[0] + SPAN) / (2 * SPAN) * size, (SPAN - point[1]) / (2 * SPAN) * size


def plane_view(run, show_test: bool = True) -> Image.Image:
    """The whole network over the plane: each hidden unit's output as a small picture, a column per layer, and the
    output (the probability of blue, less one half) as the big picture with the points on it."""
    model = run.model
    with torch.no_grad():
        output = model(plane_grid(), output_hidden_states=True)
    probability = output.logits.softmax(-1)[:, 1].numpy()
    layers = [h.numpy() for h in (output.hidden_states or ())]
    column_width = THUMB + 24
    left = 20 + column_width * len(layers)
    tallest = max([len(h[0]) for h in layers], default=0) * (THUMB + 20)
    sheet = Image.new("RGB", (left + SIZE + 20, max(SIZE + 80, tallest + 40)), "white")
    pen = ImageDraw.Draw(sheet)
    for index, hidden in enumerate(layers):
        x = 20 + index * column_width
        pen.text((x, 6), f"layer {index + 1}", fill=INK, font=font(13))
        for unit in range(hidden.shape[1]):
            values = hidden[:, unit]
            scale = float(np.abs(values).max()) or 1.0
            y = 26 + unit * (THUMB + 20)
            sheet.paste(plane_picture(values, THUMB, scale), (x, y))
            pen.rectangle([x, y, x + THUMB, y + THUMB], outline=(200, 200, 200))
            pen.text((x, y + THUMB + 2), f"unit {unit}, max {scale:.2g}", fill=MUTED, font=font(11))
    pen.text((left, 6), "output: the chance of blue", fill=INK, font=font(13))
    big = plane_picture(probability - 0.5, SIZE, 0.5)
    sheet.paste(big, (left, 26))
    pen.rectangle([left, 26, left + SIZE, 26 + SIZE], outline=(160, 160, 160))
    # the decision boundary: where the chance of blue crosses one half
    grid = probability.reshape(RESOLUTION, RESOLUTION) > 0.5
    edges = np.argwhere((grid[:, 1:] != grid[:, :-1])[:-1] | (grid[1:, :] != grid[:-1, :])[:, :-1])
    cell = SIZE / RESOLUTION
    for row, column in edges:
        cx, cy = left + (column + 1) * cell, 26 + (row + 1) * cell
        pen.rectangle([cx - 1, cy - 1, cx + 1, cy + 1], fill=INK)
    parts = [("train", run.train_images, run.train_labels, True)]
    if show_test:
        parts.append(("test", run.eval_images, run.eval_labels, False))
    for _, points, labels, filled in parts:
        for point, label in zip(points.numpy(), labels.numpy()):
            px, py = to_pixel(point, SIZE)
            colour = tuple(POSITIVE) if label == 1 else tuple(NEGATIVE)
            box = [left + px - 3.5, 26 + py - 3.5, left + px + 3.5, 26 + py + 3.5]
            if filled:
                pen.ellipse(box, fill=colour, outline="white")
            else:
                pen.ellipse(box, outline=colour, width=2)
    pen.text(
        (left, 32 + SIZE),
        "filled dots: training points; rings: test points;\nblack: the decision boundary (a chance of one half)",
        fill=MUTED,
        font=font(12),
    )
    pen.text((left, 68 + SIZE), f"x and y from -{SPAN:g} to {SPAN:g}", fill=MUTED, font=font(12))
    return sheet


def check_plane(dataset, noise, layers, units, activation, learning_rate, l2, epochs) -> tuple:
    if dataset not in DATASETS:
        raise Refused(f"Choose a dataset among {DATASETS}.")
    noise = bounded(noise, 0, 0.5, "Noise runs from 0 to 0.5.", whole=False)
    count = bounded(layers, 0, MAX_LAYERS, f"Choose 0 to {MAX_LAYERS} hidden layers.")
    width = bounded(units, 1, MAX_UNITS, f"Each hidden layer has 1 to {MAX_UNITS} units.")
    if activation not in ACTIVATIONS:
        raise Refused(f"Choose an activation among {list(ACTIVATIONS)}.")
    learning_rate = bounded(learning_rate, 1e-4, 3, "The learning rate runs from 0.0001 to 3.", whole=False)
    l2 = bounded(l2, 0, 0.1, "The L2 weight runs from 0 to 0.1.", whole=False)
    epochs = bounded(epochs, 1, MAX_PLANE_EPOCHS, f"Train for 1 to {MAX_PLANE_EPOCHS} epochs.")
    settings = {"learning_rate": learning_rate, "batch_size": 10, "optimizer": "SGD", "epochs": epochs, "l2": l2}
    return (dataset, noise), [width] * count, ACTIVATIONS[activation], settings


def make_plane(playground):
    """The 2-D tab's buttons: New network, Step, Play, Pause."""

    def frame(run, state: str):
        point = run.history[-1]
        loss = f"training loss {point['loss']:.3f}, " if point["loss"] is not None else ""
        status = (
            f"Step {run.steps:,} (epoch {run.epoch:.1f} of {run.settings['epochs']}): {loss}test loss "
            f"{point['test_loss']:.3f}, test accuracy **{point['test_accuracy']:.1%}** on {len(run.eval_labels)} "
            f"points. {state}"
        )
        chart = training_chart(
            run.history, run.settings["epochs"], len(run.eval_labels), width=640, height=240, noun="test points"
        )
        return run, png_file(plane_view(run), fast=True), png_file(chart, fast=True), status

    def new_run(controls):
        data_key, sizes, activation, settings = check_plane(*controls)
        run = Run(plane_model(playground, sizes, activation), plane_data(*data_key), settings)
        run.data_key = data_key
        return run

    def current(run, controls):
        data_key, sizes, activation, settings = check_plane(*controls)
        config = run.model.config if run is not None else None
        if run is None or run.data_key != data_key or config.hidden_sizes != sizes or config.hidden_act != activation:
            return new_run(controls)
        run.adjust(settings)
        return run

    def reset(*controls):
        return frame(new_run(controls), "A new network: press **Step** or **Play**.")

    def step(run, *controls):
        run = current(run, controls)
        if not run.done:
            run.advance(1)
        return frame(run, "**Done**: raise Epochs to train on." if run.done else "One step taken.")

    def play(run, *controls_and_speed):
        *controls, speed = controls_and_speed
        if speed not in SPEEDS:
            raise Refused(f"Choose a speed among {list(SPEEDS)}.")
        run = current(run, controls)
        for _ in run.play(SPEEDS[speed]):
            yield frame(run, PLAYING_NOTE)
        yield frame(run, "**Paused.**" if run.pause.is_set() else "**Done**: raise Epochs to train on.")

    def pause(run):
        if run is None:
            return "Nothing is training: press **Step** or **Play**."
        run.pause.set()
        return gr.skip() if run.playing else "**Paused.**"

    return reset, step, play, pause


def plane_tab(playground) -> None:
    gr.Markdown(
        "The same network class with two inputs, a point's x and y, and two classes: orange and blue. Every unit's "
        "output is drawn over the whole plane (blue high, orange low), so you can watch the first layer cut the "
        "plane with straight lines and later layers combine them into the curved decision boundary. Noise "
        "scatters the points; L2 regularization pulls every weight toward zero, which smooths the boundary. "
        "Half of the points train the network, the other half (rings) test it."
    )
    run_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            dataset = gr.Radio(DATASETS, value="circle", label="Data", elem_id="plane-data")
            noise = gr.Slider(0, 0.5, value=0.05, step=0.01, label="Noise")
            layers = gr.Slider(0, MAX_LAYERS, value=1, step=1, label="Hidden layers", elem_id="plane-layers")
            units = gr.Slider(1, MAX_UNITS, value=4, step=1, label="Units in each hidden layer", elem_id="plane-units")
            activation = gr.Radio(list(ACTIVATIONS), value="tanh", label="Activation")
            learning_rate = gr.Number(value=0.1, label="Learning rate (SGD, batches of 10)", minimum=1e-4, maximum=3)
            l2 = gr.Slider(0, 0.1, value=0, step=0.001, label="L2 regularization")
            epochs = gr.Slider(1, MAX_PLANE_EPOCHS, value=100, step=1, label="Epochs")
            speed = gr.Radio(list(SPEEDS), value="as fast as it goes", label="Speed of Play")
            with gr.Row():
                new_button = gr.Button("New network", elem_id="plane-new")
                step_button = gr.Button("Step", elem_id="plane-step")
            with gr.Row():
                play_button = gr.Button("Play", variant="primary", elem_id="plane-play")
                pause_button = gr.Button("Pause", elem_id="plane-pause")
        with gr.Column(scale=2):
            status = gr.Markdown("Press **Step** or **Play** to train.", elem_id="plane-status")
            view = gr.Image(label="The network over the plane", show_label=False, elem_id="plane-view")
            chart = gr.Image(label="Loss and accuracy", show_label=False, elem_id="plane-curves")
    reset, step, play, pause = make_plane(playground)
    controls = [dataset, noise, layers, units, activation, learning_rate, l2, epochs]
    outputs = [run_state, view, chart, status]
    new_button.click(reset, controls, outputs, api_name="plane_new", preprocess=False)
    step_button.click(step, [run_state, *controls], outputs, api_name="plane_step", preprocess=False)
    play_button.click(
        play, [run_state, *controls, speed], outputs, api_name="plane_play", preprocess=False, concurrency_limit=4
    )
    pause_button.click(pause, run_state, status, api_name="plane_pause")
