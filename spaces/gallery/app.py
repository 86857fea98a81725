"""The hfnets demos in one app, a tab each: the demos' own pages, and a text tab where the GPT and the RNN write side
by side.

Runs from a source checkout (`python -m spaces.gallery.app`, or `hfnets demo`, which also takes models on the command
line) and as a Hugging Face Space (`hfnets space spaces/gallery`). Each tab shows its family's model, as
`spaces/settings.py` decides: MLP_MODEL_ID (the MLP tab, the MLP beside the CNN, the Playground's starting network
and the image processor that reads the GAN's and the diffusion's drawings), CNN_MODEL_ID, GAN_MODEL_ID,
DDPM_MODEL_ID, GPT_MODEL_ID and RNN_MODEL_ID, else the models that ship with hfnets. A tab without a model says how to
give it one.
"""

from collections.abc import Callable

import gradio as gr

from .. import settings
from ..classifier import app as classifier
from ..ddpm import app as ddpm
from ..gan import app as gan
from ..gpt import app as gpt
from ..gpt.inside import inside_tab as gpt_inside_tab
from ..playground import app as playground
from ..rnn import app as rnn
from ..rnn.inside import inside_tab as rnn_inside_tab
from ..writing import load, make_writer, writing_controls

MAX_FILE_SIZE = "10mb"  # larger uploads are refused by Gradio before they are stored


def text_demo(gpt_id: str | None, rnn_id: str | None) -> gr.Blocks:
    """The GPT and the RNN on the same prompt, side by side, each with its inside view; one alone where the other has
    no model."""
    if rnn_id is None:
        return gpt.build_demo(gpt_id)
    if gpt_id is None:
        return rnn.build_demo(rnn_id)
    gpt_tokenizer, gpt_model = load(gpt_id)
    rnn_tokenizer, rnn_model = load(rnn_id)
    kind = getattr(rnn_model.config, "rnn_type", "rnn").upper()
    with gr.Blocks(title="Character-level language models") as demo:
        gr.Markdown(
            "# Two networks that write Shakespeare\nThe same prompt to a transformer (GPT: attention over the last "
            f"characters it can see) and a recurrent network ({kind}: one state carried from character to character), "
            "both trained on the same text, one character at a time."
        )
        inputs = writing_controls()
        button = gr.Button("Write", variant="primary", elem_id="write")
        with gr.Row():
            output = gr.Textbox(label="GPT (transformer)", lines=14, elem_id="text")
            rnn_output = gr.Textbox(label=f"RNN ({kind})", lines=14, elem_id="rnn-text")
        button.click(make_writer(gpt_tokenizer, gpt_model), inputs, output, api_name="write", preprocess=False)
        button.click(
            make_writer(rnn_tokenizer, rnn_model), inputs, rnn_output, api_name="write_rnn", preprocess=False
        )  # at once
        if hasattr(gpt_model.config, "n_head"):
            gpt_inside_tab(gpt_tokenizer, gpt_model, *inputs[1:4])
        if hasattr(rnn_model.config, "rnn_type"):
            rnn_inside_tab(rnn_tokenizer, rnn_model)
    return demo


def tabs(models: dict[str, str | None], dataset: str) -> list[tuple[str, str, Callable, tuple]]:
    """The gallery's plan: per tab, its title, the family it needs a model of, the function that builds it and that
    function's arguments (the models it shows, from `models`)."""
    return [
        ("Digits: MLP", "mlp", classifier.build_demo, (models["mlp"],)),
        ("Digits: CNN", "cnn", classifier.build_demo, (models["cnn"], models["mlp"])),
        ("GAN", "gan", gan.build_demo, (models["gan"], models["mlp"])),
        ("Diffusion", "ddpm", ddpm.build_demo, (models["ddpm"], models["mlp"])),
        ("Text: GPT and RNN", "gpt", text_demo, (models["gpt"], models["rnn"])),
        ("Playground: see an MLP learn", "mlp", playground.build_demo, (models["mlp"], dataset)),
    ]


def missing_model_tab(family: str) -> gr.Blocks:
    with gr.Blocks() as tab:
        gr.Markdown(f"### No {settings.FAMILIES[family].kind} model here yet\n\n{settings.no_model(family)}")
    return tab


def build_gallery(models: dict[str, str | None], dataset: str = settings.DEFAULT_DATASET) -> gr.Blocks:
    """Every demo as a tab; `models` maps each family (settings.FAMILIES) to its model, or None."""
    demos, titles = [], []
    for title, family, build, arguments in tabs(models, dataset):
        has_model = arguments[0] is not None or (family == "gpt" and models["rnn"] is not None)
        demos.append(build(*arguments) if has_model else missing_model_tab(family))
        titles.append(title)
    return gr.TabbedInterface(demos, titles, title="hfnets: classic neural networks the Hugging Face way")


def main() -> None:
    demo = build_gallery(settings.model_ids(), settings.playground_dataset())
    demo.queue(default_concurrency_limit=4, max_size=64).launch(max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
