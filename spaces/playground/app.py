"""See a network learn: the MNIST Playground.

Train the real `MnistMlpForImageClassification` live on MNIST (choose its layers, activation, learning rate, batch
size and optimizer), see its weights change, follow one drawn digit through a forward pass, take one step of
backward propagation on it, and compare activation functions side by side. The model you train can be downloaded
as a `save_pretrained` folder or pushed to the Hub.

Runs from a source checkout (`python -m spaces.playground.app`) and as a Hugging Face Space (`hfnets space
spaces/playground`). MODEL_ID (else MLP_MODEL_ID, else the MLP that ships with hfnets) gives the network's code, its
image processor and the trained model the page starts with; it loads with `trust_remote_code=True`, so hfnets need not
be installed. DATASET (default `ylecun/mnist`, a Hub id or a local copy) is what the networks train and are tested on.
"""

import gradio as gr

from ..inputs import digit_pad
from ..settings import no_model, playground_dataset, space_models
from .handlers import describe, make_backward, make_compare, make_forward, make_keep, make_training, make_weights
from .plane import plane_tab
from .training import (
    ACTIVATIONS,
    BATCH_SIZES,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_WIDTH,
    OPTIMIZERS,
    SPEEDS,
    Playground,
)

DEFAULT_WIDTHS = [128, 64, 32]


def train_tab(playground: Playground, states: dict) -> None:
    gr.Markdown(
        "Each training **step** shows the network a batch of digits, measures how wrong its answers are (the loss) "
        "and nudges every weight against its gradient. **Step** takes one, **Play** keeps going (at the speed "
        "chosen) until **Pause** or the last epoch. The curves gain a point as it goes, each measured on every test "
        "digit (digits it never trains on); the weight pictures are redrawn with them. The learning rate, batch "
        "size, optimizer and epochs may change between steps; a new shape or activation starts a new network."
    )
    with gr.Row():
        with gr.Column(scale=1):
            hidden_layers = gr.Slider(0, MAX_HIDDEN_LAYERS, value=1, step=1, label="Hidden layers", elem_id="layers")
            widths = [
                gr.Slider(1, MAX_WIDTH, value=w, step=1, label=f"Units in hidden layer {i + 1}", visible=i < 1)
                for i, w in enumerate(DEFAULT_WIDTHS)
            ]
            activation = gr.Radio(list(ACTIVATIONS), value="ReLU", label="Activation")
            learning_rate = gr.Number(value=1e-3, label="Learning rate", minimum=1e-5, maximum=1)
            batch_size = gr.Dropdown(BATCH_SIZES, value=64, label="Batch size")
            optimizer = gr.Radio(OPTIMIZERS, value="Adam", label="Optimizer")
            epochs = gr.Slider(1, MAX_EPOCHS, value=2, step=1, label="Epochs")
            speed = gr.Radio(list(SPEEDS), value="as fast as it goes", label="Speed of Play")
            with gr.Row():
                new_button = gr.Button("New network", elem_id="new-network")
                step_button = gr.Button("Step", elem_id="step")
            with gr.Row():
                play_button = gr.Button("Play", variant="primary", elem_id="train")
                pause_button = gr.Button("Pause", elem_id="stop")
        with gr.Column(scale=2):
            status = gr.Markdown("Press **Step** or **Play** to train a new network.", elem_id="train-status")
            chart = gr.Image(label="Loss and accuracy as it trains", show_label=False, elem_id="curves")
            first_weights = gr.Image(
                label="Weights into each first-layer unit, as a 28x28 picture each (blue adds a pixel's ink, orange "
                "subtracts it)",
                format="png",
                elem_id="weights",
            )
            output_weights = gr.Image(label="Weights into each output digit", format="png", elem_id="output-weights")
    hidden_layers.change(
        lambda count: [gr.update(visible=i < int(count)) for i in range(MAX_HIDDEN_LAYERS)],
        hidden_layers,
        widths,
        api_name=False,
        queue=False,
    )
    reset, step, play, paused = make_training(playground)
    controls = [hidden_layers, *widths, activation, learning_rate, batch_size, optimizer, epochs]
    outputs = [states["run"], states["model"], states["undo"], chart, first_weights, output_weights, status]
    new_button.click(reset, controls, outputs, api_name="new_network", concurrency_id="training")
    step_button.click(step, [states["run"], *controls], outputs, api_name="step", concurrency_id="training")
    play_button.click(
        play,
        [states["run"], *controls, speed],
        outputs,
        api_name="play",
        concurrency_limit=1,
        concurrency_id="training",
    )
    # Pause asks the playing run to stop after its frame under way, which then draws the paused state last (cancelling
    # the event could drop that frame, or let a frame in flight overwrite "Paused")
    pause_button.click(paused, states["run"], status, api_name="pause")
    keep_section(playground, states["model"])


def keep_section(playground: Playground, model_state: gr.State) -> None:
    download, push = make_keep(playground)
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
    download_button.click(download, model_state, download_file, api_name="download")
    push_button.click(push, [model_state, repo_id, token], push_result, api_name=False)


def weights_tab(playground: Playground, model_state: gr.State) -> None:
    gr.Markdown(
        "A weight is the volume of one connection: blue weights add the pixel's ink to the unit's sum, orange ones "
        "subtract it. Each picture is one hidden unit's 784 incoming weights laid out as the image; after training "
        "many look like strokes or parts of digits."
    )
    weights_button = gr.Button("Show the current weights", elem_id="show-weights")
    weights_first = gr.Image(label="Weights into each hidden unit", elem_id="weights-first")
    weights_output = gr.Image(label="Weights into each output digit", elem_id="weights-output")
    weights_button.click(make_weights(playground), model_state, [weights_first, weights_output], api_name="weights")


def forward_tab(playground: Playground, model_state: gr.State) -> gr.Sketchpad:
    """The forward pass of a drawing; returns the sketchpad, which the backward step learns from too."""
    gr.Markdown(
        "Draw a digit. Each hidden unit adds up its inputs times its weights (the weighted sum), then the activation "
        "function decides its output. The ten outputs become probabilities through softmax."
    )
    with gr.Row():
        with gr.Column():
            sketchpad = digit_pad("canvas", 320)
            forward_button = gr.Button("Forward pass", variant="primary", elem_id="forward")
            seen = gr.Image(label="The 784 inputs (28x28)", elem_id="inputs")
        with gr.Column():
            layer_images = [
                gr.Image(label=f"Hidden layer {i + 1}", visible=False, elem_id=f"layer-{i + 1}", show_label=True)
                for i in range(MAX_HIDDEN_LAYERS)
            ]
            logits_plot = gr.BarPlot(x="digit", y="logit", label="The ten outputs before softmax (logits)")
            probabilities = gr.Label(num_top_classes=3, label="After softmax", elem_id="probabilities")
            top_units = gr.Gallery(
                label="Units of the last hidden layer that pushed the winner most (weight × activation); each "
                "picture: the pixels that raise that unit's weighted sum (blue) or lower it (orange)",
                columns=4,
                elem_id="top-units",
            )
            explanation = gr.Markdown(elem_id="forward-explanation")
    forward_button.click(
        make_forward(playground),
        [model_state, sketchpad],
        [seen, *layer_images, logits_plot, probabilities, top_units, explanation],
        api_name="forward",
    )
    return sketchpad


def backward_tab(playground: Playground, states: dict, sketchpad: gr.Sketchpad) -> None:
    gr.Markdown(
        "Learning from a mistake: the loss says how wrong the answer was, backward propagation gives every weight its "
        "share of the blame (its gradient), and each weight moves a little against it. Draw a digit in *Forward "
        "pass*, choose its correct label here and press the button; press again to keep learning from that one "
        "example. In the gradient pictures blue means the loss grows with that weight (the step lowers it), orange "
        "the reverse: each is the input digit, scaled by the unit's share of the blame."
    )
    with gr.Row():
        label = gr.Dropdown([str(d) for d in range(10)], label="The correct digit", elem_id="label")
        step_rate = gr.Slider(0.0001, 0.1, value=0.001, step=0.0001, label="Learning rate of this step")
        backward_button = gr.Button("Learn from this example", variant="primary", elem_id="backward")
        reset_button = gr.Button("Start over (undo these steps)", elem_id="reset")
    with gr.Row():
        before = gr.Label(num_top_classes=3, label="Prediction before", elem_id="before")
        after = gr.Label(num_top_classes=3, label="Prediction after", elem_id="after")
    backward_text = gr.Markdown(elem_id="backward-explanation")
    gradients = gr.Gallery(
        label="Gradient of the most-blamed first-layer units' incoming weights, each captioned with its size (the "
        "update is its opposite)",
        columns=4,
        height=420,
        elem_id="gradients",
    )
    learn, start_over = make_backward(playground)
    backward_button.click(
        learn,
        [states["model"], states["undo"], sketchpad, label, step_rate],
        [states["model"], states["undo"], before, after, gradients, backward_text],
        api_name="backward",
    )
    reset_button.click(
        start_over,
        [states["model"], states["undo"]],
        [before, after, gradients, backward_text],
        api_name="start_over",
    )


def compare_tab(playground: Playground) -> None:
    gr.Markdown(
        "The same 784-128-10 network, seed and budget (Adam, learning rate 0.001, batch 64) with each activation "
        "function. Without one, the layers collapse into a single linear map."
    )
    compare_epochs = gr.Slider(1, MAX_EPOCHS, value=2, step=1, label="Epochs each")
    compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
    compare_plot = gr.Image(label="Test accuracy as they train", format="png", elem_id="compare-plot")
    compare_table = gr.Dataframe(label="Final test accuracy", elem_id="compare-table")
    compare_button.click(
        make_compare(playground),
        compare_epochs,
        [compare_plot, compare_table],
        api_name="compare",
        concurrency_limit=1,
        concurrency_id="training",
    )


def build_demo(model_id: str, dataset: str, playground: Playground | None = None) -> gr.Blocks:
    """The Playground's page: the MLP `model_id` to start from, trained on `dataset`; `playground` (what visitors
    share) is built from those two unless given."""
    playground = playground or Playground(model_id, dataset)
    with gr.Blocks(title="MNIST Playground") as demo:
        states = {
            "model": gr.State(None),  # the visitor's own network; None: the trained one the page starts with
            "run": gr.State(None),  # the visitor's training run (a `Run`), carried on by Step and Play
            "undo": gr.State(None),  # the visitor's network before their first backward step since it last trained
        }
        gr.Markdown(
            "# See a network learn\nThe real `MnistMlpForImageClassification` on MNIST. It starts as the trained "
            f"{describe(playground.start_model)} network; train your own in **Train**, then look inside it."
        )
        with gr.Tab("Train"):
            train_tab(playground, states)
        with gr.Tab("Weights"):
            weights_tab(playground, states["model"])
        with gr.Tab("Forward pass"):
            sketchpad = forward_tab(playground, states["model"])
        with gr.Tab("Backward step"):
            backward_tab(playground, states, sketchpad)
        with gr.Tab("Compare activations"):
            compare_tab(playground)
        with gr.Tab("2-D data"):
            plane_tab(playground)
    return demo


def main() -> None:
    (model_id,) = space_models("playground")
    if model_id is None:
        raise SystemExit(no_model("mlp"))
    build_demo(model_id, playground_dataset()).queue(default_concurrency_limit=4, max_size=64).launch()


if __name__ == "__main__":
    main()
