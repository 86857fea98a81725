"""What the Playground's buttons do, one `make_*` per view: each returns its Gradio handlers, bound to what every
visitor shares (a `Playground`); a visitor's own network travels in the page's state (None: the trained network the
page starts with)."""

import copy
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..inputs import Refused
from .charts import accuracy_chart, curves, enlarge, layer_picture, tile_grid, weight_pictures
from .passes import TOP_NEURONS, backward_step, forward_explanation, forward_pass, top_unit_gallery
from .training import (
    ACTIVATIONS,
    BATCH_SIZES,
    COMPARE_SETTINGS,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_WIDTH,
    accuracy,
    in_background,
    train,
)

TABLE_COLUMNS = ["activation", "test accuracy", "seconds"]


def check_architecture(hidden_layers, widths) -> list[int]:
    count = int(hidden_layers)
    if not 0 <= count <= MAX_HIDDEN_LAYERS:
        raise Refused(f"Choose 0 to {MAX_HIDDEN_LAYERS} hidden layers.")
    sizes = [int(w) for w in widths[:count]]
    if any(not 1 <= w <= MAX_WIDTH for w in sizes):
        raise Refused(f"Each hidden layer has 1 to {MAX_WIDTH} units.")
    return sizes


def check_training(learning_rate, batch_size, epochs) -> tuple[float, int, int]:
    learning_rate, epochs = float(learning_rate), int(epochs)
    if not (0 < learning_rate <= 1):
        raise Refused("The learning rate must be above 0 and at most 1.")
    if int(batch_size) not in BATCH_SIZES:
        raise Refused(f"Choose a batch size among {BATCH_SIZES}.")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise Refused(f"Train for 1 to {MAX_EPOCHS} epochs.")
    return learning_rate, int(batch_size), epochs


def describe(model) -> str:
    sizes = "-".join(str(n) for n in [model.config.input_size, *model.config.hidden_sizes, model.config.num_labels])
    name = {v: k for k, v in ACTIVATIONS.items()}.get(model.config.hidden_act, model.config.hidden_act)
    return f"{sizes}, {name}" if model.config.hidden_sizes else f"{sizes} (no hidden layer)"


def drawing(sketch) -> Image.Image:
    composite = None if sketch is None else sketch.get("composite")
    array = None if composite is None else np.asarray(composite)
    if array is None or array.size == 0 or (array.ndim == 3 and array.shape[-1] == 4 and array[..., 3].max() == 0):
        raise Refused("Draw a digit first.")
    flat = array.reshape(-1, array.shape[-1]) if array.ndim == 3 else array.reshape(-1, 1)
    if (flat == flat[0]).all():
        raise Refused("Draw a digit first.")
    return Image.fromarray(array)


def probabilities_label(probabilities: np.ndarray) -> dict[str, float]:
    return {str(digit): float(p) for digit, p in enumerate(probabilities)}


def session_model(playground, model):
    """The visitor's network: theirs, or their own copy of the one the page starts with (a few hundred kilobytes), so
    that one visitor's step leaves others' alone."""
    return model if model is not None else copy.deepcopy(playground.start_model)


def digits(playground) -> dict:
    try:
        return playground.data()
    except (OSError, RuntimeError, ValueError, ConnectionError) as error:  # no dataset there, or not one of digits
        raise Refused(
            f"The digits ({playground.dataset}) could not be loaded: {str(error).rstrip('.')}. Offline, or without "
            "the Hub? Start the demo on a local copy of MNIST in the Hub layout: hfnets demo --dataset path/to/mnist "
            "(a Space: its DATASET variable)."
        ) from None


def training_status(model, history: list[dict], epochs: int) -> str:
    record = history[-1]
    epoch_times = [r["epoch_seconds"] for r in history if r["epoch_seconds"] is not None]
    status = (
        f"{describe(model)}: epoch {record['epoch']:.2f} of {epochs}, loss {record['loss']:.3f}, "
        f"test accuracy {record['test_accuracy']:.2%}"
    )
    return status + (f"; {np.mean(epoch_times):.1f} s per epoch" if epoch_times else "")


def make_training(playground):
    def run_training(hidden_layers, width1, width2, width3, activation, learning_rate, batch_size, optimizer, epochs):
        """Stream (network, loss curve, accuracy curve, weight pictures, status) while a new network trains."""
        sizes = check_architecture(hidden_layers, [width1, width2, width3])
        learning_rate, batch_size, epochs = check_training(learning_rate, batch_size, epochs)
        if activation not in ACTIVATIONS:
            raise Refused(f"Choose an activation among {list(ACTIVATIONS)}.")
        model = playground.new_model(sizes, ACTIVATIONS[activation], seed=0)
        history = []
        status = f"Training {describe(model)} (the first run waits for the digits)"
        yield model, *curves(history), *weight_pictures(model), status
        data = digits(playground)
        stop = threading.Event()
        records = train(model, data, learning_rate, batch_size, optimizer, epochs, seed=0, stop=stop)
        for new in in_background(records, stop):
            history += new
            yield model, *curves(history), *weight_pictures(model), training_status(model, history, epochs)
        final = accuracy(model, *data["test"])
        epoch_times = [r["epoch_seconds"] for r in history if r["epoch_seconds"] is not None]
        yield (
            model,
            *curves(history),
            *weight_pictures(model),
            f"**Done.** {describe(model)} after {epochs} epoch(s), {np.mean(epoch_times):.2f} s per epoch: test "
            f"accuracy **{final:.2%}** on "
            f"{len(data['test'][1]):,} test digits it never trained on. Draw a digit in *Forward pass* to try it.",
        )

    return run_training


def make_weights(playground):
    def show_weights(model):
        return weight_pictures(session_model(playground, model))

    return show_weights


def make_forward(playground):
    def run_forward(model, sketch):
        """The drawing's forward pass: the inputs, each hidden layer, the logits, the probabilities, the units that
        pushed the winner most, and the explanation."""
        model = session_model(playground, model)
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

    return run_forward


def backward_explanation(result: dict, digit: int) -> str:
    layer_norms = "\n".join(
        f"| `{name}` | {float(g.norm()):.4g} | {float(result['learning_rate'] * g.norm()):.4g} |"
        for name, g in result["gradients"].items()
    )
    return (
        f"The correct digit is **{digit}**: its probability went from {result['before'][digit]:.1%} to "
        f"**{result['after'][digit]:.1%}**. The loss (cross-entropy, −log of that probability) was "
        f"**{result['loss_before']:.3f}** before this step, **{result['loss_after']:.3f}** after. Each weight "
        f"moved by −{result['learning_rate']} × its gradient:\n\n| layer | gradient size | update size |\n"
        f"|---|---|---|\n{layer_norms}"
    )


def make_backward(playground):
    def run_backward(model, sketch, label, learning_rate):
        """One step of gradient descent on the drawing, taken by the visitor's network."""
        model = session_model(playground, model)
        pixels = playground.pixels(drawing(sketch))
        if label is None:
            raise Refused("Choose the correct digit first.")
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
        before, after = probabilities_label(result["before"]), probabilities_label(result["after"])
        return model, before, after, gallery, backward_explanation(result, int(label))

    return run_backward


def make_compare(playground):
    def compare(epochs):
        """Stream the accuracy chart and table while the same network trains with each activation in turn."""
        epochs = int(epochs)
        if not 1 <= epochs <= MAX_EPOCHS:
            raise Refused(f"Compare over 1 to {MAX_EPOCHS} epochs.")
        data = digits(playground)
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

    return compare


def make_keep(playground):
    def download(model):
        """The visitor's network as a zipped `save_pretrained` folder."""
        folder = saved_folder(session_model(playground, model), playground.processor)
        archive = folder.parent / "mnist-mlp-playground.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for path in sorted(folder.iterdir()):
                zipped.write(path, f"mnist-mlp-playground/{path.name}")
        return str(archive)

    def push(model, repo_id, token):
        if not repo_id or not token:
            raise Refused("Give a repository id (user/name) and a Hub token with write access.")
        try:
            url = push_model(session_model(playground, model), playground.processor, repo_id.strip(), token.strip())
        except Exception as error:  # the Hub's own message: bad token, no rights, bad name
            raise Refused(f"The push failed: {error}") from None
        return f"Pushed: {url}"

    return download, push


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
