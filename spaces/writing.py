"""Writing with a character-level language model (the GPT or the RNN), streamed as it is written: the controls and
the writer both text demos and the gallery's text tab use."""

import contextlib
import threading

import gradio as gr
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

from .inputs import Refused, bounded
from .lanes import LongRunLane

MAX_NEW_TOKENS = 1000
MAX_PROMPT_CHARS = 2000
# A text of more new characters than this is a long one: it takes its turn in the writer's long-run lane.
LONG_TEXT = 400


def load(model_id: str):
    """The tokenizer and the model of an hfnets character-level language model, checked to belong together."""
    tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(model_id, trust_remote_code=True).eval()
    if hasattr(model.config, "check_tokenizer"):
        model.config.check_tokenizer(tokenizer)
    return tokenizer, model


def make_writer(tokenizer, model):
    """The writer of one model; texts longer than LONG_TEXT characters take turns in a lane of their own."""
    context = getattr(model.config, "n_positions", None)  # a GPT's context; a recurrent network has no limit
    lane = LongRunLane("long text", f"ask for at most {LONG_TEXT} new characters")

    def write(prompt: str, temperature: float, top_k: float, top_p: float, max_new_tokens: float):
        """Stream the prompt's continuation, growing text each time."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise Refused("Type a prompt first, for example ROMEO:")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise Refused(f"Keep the prompt under {MAX_PROMPT_CHARS} characters.")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        max_new_tokens = bounded(max_new_tokens, 1, MAX_NEW_TOKENS, f"Ask for 1 to {MAX_NEW_TOKENS} new characters.")
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        if ids.shape[1] == 0:
            raise Refused("The prompt holds no character the model knows.")
        sampling = dict(do_sample=True, temperature=float(temperature), top_k=int(top_k), top_p=float(top_p))
        sampling["suppress_tokens"] = tokenizer.all_special_ids  # characters only: no <pad> or <unk> in the text
        with lane if max_new_tokens > LONG_TEXT else contextlib.nullcontext():
            yield from write_on(prompt, ids, int(max_new_tokens), sampling)

    def write_on(prompt: str, ids, remaining: int, sampling: dict):
        text = prompt
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
                raise Refused(f"Generation failed: {result['error']}")
            ids, remaining = result["ids"], remaining - chunk

    return write


def writing_controls() -> list:
    """The prompt and the sampling settings, with examples: the inputs of a writer, in its arguments' order."""
    prompt = gr.Textbox(value="ROMEO:", label="Prompt", lines=3, max_length=MAX_PROMPT_CHARS, elem_id="prompt")
    with gr.Row():
        temperature = gr.Slider(0.05, 2, value=0.8, step=0.05, label="Temperature")
        top_k = gr.Slider(0, 200, value=40, step=1, label="Top-k (0 = off)")
        top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label="Top-p")
        max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=300, step=1, label="New characters")
    inputs = [prompt, temperature, top_k, top_p, max_new_tokens]
    gr.Examples([["ROMEO:", 0.8, 40, 0.95, 300], ["To be, or not", 0.5, 20, 0.9, 200]], inputs=inputs)
    return inputs
