"""Text from the character-level language models trained on Tiny Shakespeare, streamed as it is written: the GPT, and
beside it on the same prompt the recurrent network (LSTM) where there is one.

Runs locally (`python spaces/gpt/app.py`) and as a Hugging Face Space. The models come from the environment variables
MODEL_ID (the GPT) and RNN_MODEL_ID (the RNN), each a Hub id or a local folder, by default the models that ship with
hfnets; they load with `trust_remote_code=True`. Without an RNN the page shows the GPT alone.
"""

import os
import threading
from pathlib import Path

import gradio as gr
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

# The models that ship with hfnets, where this app runs from the repository or an installed hfnets.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "char-gpt"
SHIPPED_RNN = Path(__file__).resolve().parents[2] / "pretrained" / "char-rnn"
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


def shipped_rnn() -> str | None:
    """The shipped RNN's folder, if it is here."""
    return str(SHIPPED_RNN) if (SHIPPED_RNN / "config.json").is_file() else None


def load(model_id: str | None = None):
    model_id = model_id or os.environ.get("MODEL_ID") or shipped_model()
    if model_id is None:
        raise RuntimeError(
            "No model to show: set MODEL_ID to a Hub model id or a local folder (on a Space: a variable in its "
            "settings)."
        )
    tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(model_id, trust_remote_code=True).eval()
    if hasattr(model.config, "check_tokenizer"):
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
    context = getattr(model.config, "n_positions", None)  # a GPT's context; a recurrent network has no limit

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
        while remaining > 0:  # a GPT writes in chunks of half its context, each seeing the latest text
            chunk = remaining if context is None else min(remaining, max(1, context // 2))
            window = ids if context is None else ids[:, -(context - chunk) :]
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


def build_demo(model_id: str | None = None, rnn_model_id: str | None = None) -> gr.Blocks:
    """The GPT's page; with an RNN (`rnn_model_id`, else RNN_MODEL_ID, else the shipped one), both side by side."""
    tokenizer, model = load(model_id)
    write = make_writer(tokenizer, model)
    rnn_model_id = rnn_model_id or os.environ.get("RNN_MODEL_ID") or shipped_rnn()
    write_rnn, rnn_label = None, ""
    if rnn_model_id:
        rnn_tokenizer, rnn = load(rnn_model_id)
        write_rnn, rnn_label = make_writer(rnn_tokenizer, rnn), getattr(rnn.config, "rnn_type", "rnn").upper()
    with gr.Blocks(title="Character-level language models") as demo:
        if write_rnn is None:
            gr.Markdown("# A small GPT that writes Shakespeare\nOne character at a time, streamed as it goes.")
        else:
            gr.Markdown(
                "# Two networks that write Shakespeare\nThe same prompt to a transformer (GPT: attention over the "
                f"last characters it can see) and a recurrent network ({rnn_label}: one state carried from "
                "character to character), both trained on the same text, one character at a time."
            )
        prompt = gr.Textbox(value="ROMEO:", label="Prompt", lines=3, max_length=MAX_PROMPT_CHARS, elem_id="prompt")
        with gr.Row():
            temperature = gr.Slider(0.05, 2, value=0.8, step=0.05, label="Temperature")
            top_k = gr.Slider(0, 200, value=40, step=1, label="Top-k (0 = off)")
            top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label="Top-p")
            max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=300, step=1, label="New characters")
        button = gr.Button("Write", variant="primary", elem_id="write")
        inputs = [prompt, temperature, top_k, top_p, max_new_tokens]
        if write_rnn is None:
            output = gr.Textbox(label="Text", lines=14, elem_id="text")
        else:
            with gr.Row():
                output = gr.Textbox(label="GPT (transformer)", lines=14, elem_id="text")
                rnn_output = gr.Textbox(label=f"RNN ({rnn_label})", lines=14, elem_id="rnn-text")
        gr.Examples([["ROMEO:", 0.8, 40, 0.95, 300], ["To be, or not", 0.5, 20, 0.9, 200]], inputs=inputs)
        button.click(write, inputs, output, api_name="write")
        if write_rnn is not None:
            button.click(write_rnn, inputs, rnn_output, api_name="write_rnn")  # both run at once, side by side
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
