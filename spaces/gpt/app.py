"""Text from the character-level GPT trained on Tiny Shakespeare, streamed as it is written.

Runs locally (`python spaces/gpt/app.py`) and as a Hugging Face Space. The model comes from the environment variable
MODEL_ID (a Hub id or a local folder), by default the model that ships with hfnets;
it loads with `trust_remote_code=True`.
"""

import os
import threading
from pathlib import Path

import gradio as gr
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

# The model that ships with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "char-gpt"
MAX_NEW_TOKENS = 1000
MAX_PROMPT_CHARS = 2000


# Copied from spaces.mnist-classifier.app.shipped_model
def shipped_model() -> str | None:
    """The shipped model's folder, if it is here."""
    return (
        str(SHIPPED_MODEL)
        if (SHIPPED_MODEL / "config.json").is_file() or (SHIPPED_MODEL / "model_index.json").is_file()
        else None
    )


def load(model_id: str | None = None):
    model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
    if model_id is None:
        raise RuntimeError(
            "No model to show: set MODEL_ID to a Hub model id or a local folder (on a Space: a variable in its "
            "settings)."
        )
    tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(model_id, trust_remote_code=True).eval()
    model.config.check_tokenizer(tokenizer)
    return tokenizer, model


# Copied from spaces.gan.app.bounded
def bounded(value, low: float, high: float, message: str, whole: bool = True):
    """`value` as a number in [low, high] (a whole number where `whole`); anything else is a gr.Error with `message`
    (API callers can send strings, NaN, infinities or lists where the sliders send numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(message) from None
    if isinstance(value, bool) or not low <= number <= high or (whole and not number.is_integer()):
        raise gr.Error(message)
    return int(number) if whole else number


def make_writer(tokenizer, model):
    context = model.config.n_positions

    def write(prompt: str, temperature: float, top_k: float, top_p: float, max_new_tokens: float):
        """Stream the prompt's continuation, growing text each time."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise gr.Error("Type a prompt first, for example ROMEO:")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise gr.Error(f"Keep the prompt under {MAX_PROMPT_CHARS} characters.")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        max_new_tokens = bounded(max_new_tokens, 1, MAX_NEW_TOKENS, f"Ask for 1 to {MAX_NEW_TOKENS} new characters.")
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        if ids.shape[1] == 0:
            raise gr.Error("The prompt holds no character the model knows.")
        sampling = dict(do_sample=True, temperature=float(temperature), top_k=int(top_k), top_p=float(top_p))
        sampling["suppress_tokens"] = tokenizer.all_special_ids  # characters only: no <pad> or <unk> in the text
        text, remaining = prompt, int(max_new_tokens)
        while remaining > 0:  # in chunks of half the context, each seeing the latest text: any length fits
            chunk = min(remaining, max(1, context // 2))
            window = ids[:, -(context - chunk) :]
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=120)
            result = {}

            def run(window=window, chunk=chunk, streamer=streamer, result=result):
                try:
                    mask = torch.ones_like(window)
                    result["ids"] = model.generate(
                        input_ids=window, attention_mask=mask, max_new_tokens=chunk, streamer=streamer, **sampling
                    )
                except Exception as error:  # shown to the user below instead of a stream that never ends
                    result["error"] = error
                    streamer.end()

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            for piece in streamer:
                text += piece
                yield text
            thread.join()
            if "error" in result:
                raise gr.Error(f"Generation failed: {result['error']}")
            ids, remaining = result["ids"], remaining - chunk

    return write


def build_demo(model_id: str | None = None) -> gr.Blocks:
    tokenizer, model = load(model_id)
    write = make_writer(tokenizer, model)
    with gr.Blocks(title="Character-level GPT") as demo:
        gr.Markdown("# A small GPT that writes Shakespeare\nOne character at a time, streamed as it goes.")
        prompt = gr.Textbox(value="ROMEO:", label="Prompt", lines=3, max_length=MAX_PROMPT_CHARS, elem_id="prompt")
        with gr.Row():
            temperature = gr.Slider(0.05, 2, value=0.8, step=0.05, label="Temperature")
            top_k = gr.Slider(0, 200, value=40, step=1, label="Top-k (0 = off)")
            top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label="Top-p")
            max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=300, step=1, label="New characters")
        button = gr.Button("Write", variant="primary", elem_id="write")
        output = gr.Textbox(label="Text", lines=14, elem_id="text")
        gr.Examples(
            [["ROMEO:", 0.8, 40, 0.95, 300], ["To be, or not", 0.5, 20, 0.9, 200]],
            inputs=[prompt, temperature, top_k, top_p, max_new_tokens],
        )
        button.click(write, [prompt, temperature, top_k, top_p, max_new_tokens], output, api_name="write")
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
