"""Text from the character-level GPT trained on Tiny Shakespeare, streamed as it is written, and a look inside: its
attention and the next character's odds.

Runs from a source checkout (`python -m spaces.gpt.app`) and as a Hugging Face Space (`hfnets space spaces/gpt`). It
shows MODEL_ID (else GPT_MODEL_ID, else the GPT that ships with hfnets), loaded with `trust_remote_code=True`.
"""

import gradio as gr

from ..settings import no_model, space_models
from ..writing import load, make_writer, writing_controls
from .inside import inside_tab


def build_demo(model_id: str) -> gr.Blocks:
    tokenizer, model = load(model_id)
    with gr.Blocks(title="Character-level GPT") as demo:
        gr.Markdown("# A small GPT that writes Shakespeare\nOne character at a time, streamed as it goes.")
        inputs = writing_controls()
        button = gr.Button("Write", variant="primary", elem_id="write")
        output = gr.Textbox(label="Text", lines=14, elem_id="text")
        button.click(make_writer(tokenizer, model), inputs, output, api_name="write", preprocess=False)
        if hasattr(model.config, "n_head"):  # a transformer: attention to look at
            inside_tab(tokenizer, model, *inputs[1:4])
    return demo


def main() -> None:
    (model_id,) = space_models("gpt")
    if model_id is None:
        raise SystemExit(no_model("gpt"))
    build_demo(model_id).queue(default_concurrency_limit=4, max_size=64).launch()


if __name__ == "__main__":
    main()
