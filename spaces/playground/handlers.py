"""What the Playground's buttons do, one `make_*` per view: each returns its Gradio handlers, bound to what every
visitor shares (a `Playground`); a visitor's own network travels in the page's state (None: the trained network the
page starts with)."""

import copy
import tempfile
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..inputs import Refused
from ..pictures import png_file
from .charts import accuracy_chart, enlarge, layer_picture, tile_grid, training_chart, weight_pictures
from .passes import TOP_NEURONS, backward_step, forward_explanation, forward_pass, top_unit_gallery
from .training import (
    ACTIVATIONS,
    BATCH_SIZES,
    COMPARE_SETTINGS,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_WIDTH,
    OPTIMIZERS,
    SPEEDS,
    Run,
)

TABLE_COLUMNS = ["activation", "test accuracy", "seconds training"]


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


def architecture_and_settings(
    hidden_layers, width1, width2, width3, activation, learning_rate, batch_size, optimizer, epochs
) -> tuple[list[int], str, dict]:
    """The Train tab's controls, checked: the hidden layers' sizes, the activation's name in the config, and the
    settings a `Run` takes."""
    sizes = check_architecture(hidden_layers, [width1, width2, width3])
    learning_rate, batch_size, epochs = check_training(learning_rate, batch_size, epochs)
    if activation not in ACTIVATIONS:
        raise Refused(f"Choose an activation among {list(ACTIVATIONS)}.")
    if optimizer not in OPTIMIZERS:
        raise Refused(f"Choose an optimizer among {OPTIMIZERS}.")
    settings = {"learning_rate": learning_rate, "batch_size": batch_size, "optimizer": optimizer, "epochs": epochs}
    return sizes, ACTIVATIONS[activation], settings


def run_status(run, playground, state: str) -> str:
    """Where a run is: its network, step and epoch, its last losses and accuracy, and `state` (playing, paused...)."""
    point = run.history[-1]
    loss = f"training loss {point['loss']:.3f}, " if point["loss"] is not None else ""
    text = (
        f"**{describe(run.model)}**: step {run.steps:,} of {run.total_steps:,} (epoch {run.epoch:.2f} of "
        f"{run.settings['epochs']}). {loss}on the {len(run.eval_labels):,} test digits: loss "
        f"{point['test_loss']:.3f}, accuracy **{point['test_accuracy']:.2%}**. {state}"
    )
    if playground.source != playground.dataset:
        text += f"\n\nDigits: {playground.source}."
    return text


def make_training(playground):
    """The Train tab's buttons: New network, Step, Play (and Pause, which stops Play where it is)."""

    def frame(run, state: str):
        first, output = (png_file(picture, fast=True) for picture in weight_pictures(run.model))
        chart = png_file(training_chart(run.history, run.settings["epochs"], len(run.eval_labels)), fast=True)
        # the visitor's network is the run's; a backward step's undo point (None) is taken anew from it
        return run, run.model, None, chart, first, output, run_status(run, playground, state)

    def new_run(sizes, activation, settings):
        data = digits(playground)
        return Run(playground.new_model(sizes, activation, seed=0), data, settings, seed=0)

    def current(run, controls):
        """The visitor's run, carried on with the controls' settings; a new one where the network's shape or
        activation changed (or there is none yet)."""
        sizes, activation, settings = architecture_and_settings(*controls)
        if run is None or run.model.config.hidden_sizes != sizes or run.model.config.hidden_act != activation:
            return new_run(sizes, activation, settings)
        run.adjust(settings)
        return run

    def reset(*controls):
        """A new, untrained network with the controls' settings, measured once before any step."""
        sizes, activation, settings = architecture_and_settings(*controls)
        return frame(new_run(sizes, activation, settings), "A new network: press **Step** or **Play**.")

    def step(run, *controls):
        """One step of gradient descent on the next batch."""
        run = current(run, controls)
        if run.done:
            return frame(run, DONE_NOTE)
        run.advance(1)
        return frame(run, "**Done.** " + DONE_NOTE if run.done else "One step taken.")

    def play(run, *controls_and_speed):
        """Train on, redrawing the curves and the weights as it goes, until the budget of epochs is spent or Pause."""
        *controls, speed = controls_and_speed
        if speed not in SPEEDS:
            raise Refused(f"Choose a speed among {list(SPEEDS)}.")
        if run is None:
            yield (gr.skip(),) * 6 + ("Getting the digits ready (the first run decodes them)...",)
        run = current(run, controls)
        if run.done:
            yield frame(run, DONE_NOTE)
            return
        for _ in run.play(SPEEDS[speed]):
            yield frame(run, PLAYING_NOTE)
        yield frame(run, "**Done.** " + DONE_NOTE if run.done else PAUSED_NOTE)

    def paused(run):
        """Stop Play after the frame under way."""
        if run is None:
            return "Nothing is training: press **Step** or **Play**."
        run.pause.set()
        # a playing run draws its paused state after the frame under way; otherwise say so here
        if run.playing:
            return gr.skip()
        return run_status(run, playground, "**Done.** " + DONE_NOTE if run.done else PAUSED_NOTE)

    return reset, step, play, paused


PLAYING_NOTE = "Playing... (**Pause** stops it where it is)"
PAUSED_NOTE = "**Paused**: **Play** or **Step** carries on from here."
DONE_NOTE = (
    "The budget of epochs is spent: raise **Epochs** to train on, or press **New network**. Draw a digit in *Forward "
    "pass* to try it."
)


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
        gallery = top_unit_gallery(model, result, pixels)
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
    def learn(model, undo, sketch, label, learning_rate):
        """One step of gradient descent on the drawing, taken by the visitor's network; the first since it trained
        keeps its weights to go back to."""
        model = session_model(playground, model)
        pixels = playground.pixels(drawing(sketch))
        if label is None:
            raise Refused("Choose the correct digit first.")
        if undo is None:
            undo = {"weights": {k: v.detach().clone() for k, v in model.state_dict().items()}, "steps": 0}
        result = backward_step(model, pixels, int(label), float(learning_rate))
        undo["steps"] += 1
        first_name = "hidden_layers.0.weight" if len(model.hidden_layers) else "classifier.weight"
        gradient = result["gradients"][first_name]
        norms = gradient.norm(dim=1)
        top = torch.argsort(norms, descending=True)[:TOP_NEURONS]
        tiles = gradient[top].reshape(len(top), 28, 28).numpy()
        gallery = [
            (tile_grid(tile[None], 1, zoom=4), f"unit {int(unit)}: {float(norms[unit]):.2g}")
            for tile, unit in zip(tiles, top)
        ]
        before, after = probabilities_label(result["before"]), probabilities_label(result["after"])
        return model, undo, before, after, gallery, backward_explanation(result, int(label))

    def start_over(model, undo):
        """Undo the backward steps: the visitor's network as it was before the first of them."""
        if model is None or undo is None or not undo["steps"]:
            return None, None, [], "No backward step to undo: the network is as training left it."
        model.load_state_dict(undo["weights"])
        steps, undo["steps"] = undo["steps"], 0
        return (
            None,
            None,
            [],
            f"**Started over**: {steps} backward step{'s' if steps > 1 else ''} undone. The network is your "
            f"{describe(model)} network as it was before them.",
        )

    return learn, start_over


def make_compare(playground):
    def compare(epochs):
        """Stream the accuracy chart and table while the same network trains with each activation in turn."""
        epochs = int(epochs)
        if not 1 <= epochs <= MAX_EPOCHS:
            raise Refused(f"Compare over 1 to {MAX_EPOCHS} epochs.")
        data = digits(playground)
        settings = {**COMPARE_SETTINGS, "epochs": epochs}
        rows, table = [], []
        for name, activation in ACTIVATIONS.items():
            model = playground.new_model(settings["hidden_sizes"], activation, settings["seed"])
            run = Run(model, data, settings, seed=settings["seed"])
            shown = 0
            while not run.done:
                run.advance(None)
                rows += [
                    {"activation": name, "epoch": point["epoch"], "test accuracy": point["test_accuracy"]}
                    for point in run.history[shown:]
                ]
                shown = len(run.history)
                yield accuracy_chart(rows, epochs), pd.DataFrame(table, columns=TABLE_COLUMNS)
            table.append([name, f"{run.history[-1]['test_accuracy']:.2%}", round(run.seconds, 1)])
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
