"""Text from the character-level recurrent network (LSTM or GRU) trained on Tiny Shakespeare, streamed as it is
written, and a look inside: one hidden unit along a text.

Runs from a source checkout (`python -m spaces.rnn.app`) and as a Hugging Face Space (`hfnets space spaces/rnn`). It
shows MODEL_ID (else RNN_MODEL_ID, else the RNN that ships with hfnets), loaded with `trust_remote_code=True`.
"""

import gradio as gr

from ..settings import no_model, space_models
from ..writing import load, make_writer, writing_controls
from .inside import inside_tab


def build_demo(model_id: str) -> gr.Blocks:
    tokenizer, model = load(model_id)
    kind = getattr(model.config, "rnn_type", "rnn").upper()
    with gr.Blocks(title="Character-level RNN") as demo:
        gr.Markdown(
            f"# A recurrent network that writes Shakespeare\nAn {kind}: one state carried from character to "
            "character, one character at a time, streamed as it goes."
        )
        inputs = writing_controls()
        button = gr.Button("Write", variant="primary", elem_id="write")
        output = gr.Textbox(label=f"Text ({kind})", lines=14, elem_id="text")
        button.click(make_writer(tokenizer, model), inputs, output, api_name="write", preprocess=False)
        if hasattr(model.config, "rnn_type"):  # a recurrent network: hidden units to look at
            inside_tab(tokenizer, model)
    return demo


def main() -> None:
    (model_id,) = space_models("rnn")
    if model_id is None:
        raise SystemExit(no_model("rnn"))
    build_demo(model_id).queue(default_concurrency_limit=4, max_size=64).launch()


if __name__ == "__main__":
    main()
