"""Text from the character-level language models trained on Tiny Shakespeare, streamed as it is written: the GPT, and
beside it on the same prompt the recurrent network (LSTM) where there is one.

Runs locally (`python spaces/gpt/app.py`) and as a Hugging Face Space. The models come from the environment variables
MODEL_ID (the GPT) and RNN_MODEL_ID (the RNN), each a Hub id or a local folder, by default the models that ship with
hfnets; they load with `trust_remote_code=True`. Without an RNN the page shows the GPT alone.
"""

import html
import os
import threading
from pathlib import Path

import gradio as gr
import torch
from PIL import Image, ImageDraw
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


# ---------------------------------------------------------------------------------------------------------------
# Inside the GPT: attention and the next character's distribution, from the model's own outputs

MAX_INSIDE_CHARS = 64  # the attention view reads at most this many characters
TOP_CHARACTERS = 12


def shown_char(token: str) -> str:
    """A character as the pictures label it: a line end as "/", a space as "_" (the pictures' font has no symbols)."""
    return {"\n": "/", " ": "_"}.get(token, token)


def attention_map(weights: torch.Tensor, characters: list[str], cell: int = 18) -> Image.Image:
    """One head's attention (query rows, key columns) as a grid: darker is more attention; the cells above the
    diagonal, which the causal mask hides from each query, are hatched grey."""
    size = len(characters)
    margin = 20
    image = Image.new("RGB", (margin + size * cell + 1, margin + size * cell + 1), "white")
    pen = ImageDraw.Draw(image)
    peak = float(weights.max()) or 1.0
    for row in range(size):
        for column in range(size):
            x, y = margin + column * cell, margin + row * cell
            if column > row:
                pen.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(235, 235, 235))
                pen.line([x, y + cell - 1, x + cell - 1, y], fill=(205, 205, 205))
            else:
                shade = int(255 - 235 * float(weights[row, column]) / peak)
                pen.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, 255))
    for index, character in enumerate(characters):
        pen.text((margin + index * cell + 3, 3), shown_char(character), fill=(0, 0, 0))
        pen.text((4, margin + index * cell + 1), shown_char(character), fill=(0, 0, 0))
    return image


def next_character_chart(before: dict[str, float], after: dict[str, float]) -> Image.Image:
    """The most likely next characters: the model's probabilities (grey) and what sampling draws from after
    temperature, top-k and top-p (blue)."""
    width, row_height, left = 420, 22, 40
    image = Image.new("RGB", (width, 30 + row_height * len(before)), "white")
    pen = ImageDraw.Draw(image)
    pen.text((left, 4), "grey: the model's probability   blue: after temperature, top-k, top-p", fill=(60, 60, 60))
    scale = max([*before.values(), *after.values(), 1e-9])
    for index, (character, probability) in enumerate(before.items()):
        y = 26 + index * row_height
        pen.text((8, y + 4), shown_char(character), fill=(0, 0, 0))
        pen.rectangle([left, y, left + (width - left - 60) * probability / scale, y + 8], fill=(180, 180, 180))
        drawn = after.get(character, 0.0)
        pen.rectangle([left, y + 9, left + (width - left - 60) * drawn / scale, y + 17], fill=(8, 119, 189))
        pen.text((width - 56, y + 4), f"{drawn:.1%}", fill=(8, 119, 189))
    return image


def inside_view(tokenizer, model, text: str, temperature: float, top_k: int, top_p: float) -> dict:
    """What the model computes for `text`: every layer's attention weights (the model's `output_attentions`), the
    next character's probabilities, and those after transformers' temperature, top-k and top-p warpers, which
    `generate` applies when it samples."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[:, -MAX_INSIDE_CHARS:]
    with torch.no_grad():
        outputs = model(input_ids=ids, output_attentions=True)
    logits = outputs.logits[:, -1].float()
    logits[:, tokenizer.all_special_ids] = float("-inf")  # characters only, as the writer samples
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k > 0:
        warpers.append(TopKLogitsWarper(top_k))
    warpers.append(TopPLogitsWarper(top_p))
    warped = warpers(ids, logits.clone())
    return {
        "characters": tokenizer.convert_ids_to_tokens(ids[0].tolist()),
        "attentions": [layer[0] for layer in outputs.attentions],  # each (n_head, seq, seq)
        "probabilities": logits.softmax(-1)[0],
        "sampling": warped.softmax(-1)[0],
    }


def make_inside(tokenizer, model):
    def look(text: str, layer: float, head: float, temperature: float, top_k: float, top_p: float):
        if not isinstance(text, str) or not text:
            raise gr.Error("Type some text first, for example ROMEO:")
        layer = bounded(layer, 1, model.config.n_layer, f"Choose a layer from 1 to {model.config.n_layer}.")
        head = bounded(head, 1, model.config.n_head, f"Choose a head from 1 to {model.config.n_head}.")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        view = inside_view(tokenizer, model, text[-4 * MAX_INSIDE_CHARS :], temperature, top_k, top_p)
        if not view["characters"]:
            raise gr.Error("The text holds no character the model knows.")
        weights = view["attentions"][layer - 1][head - 1]
        top = view["probabilities"].topk(min(TOP_CHARACTERS, len(view["probabilities"])))
        names = tokenizer.convert_ids_to_tokens(top.indices.tolist())
        before = {name: float(p) for name, p in zip(names, top.values)}
        after = {name: float(view["sampling"][i]) for name, i in zip(names, top.indices.tolist())}
        last = view["characters"][-1]
        strongest = int(weights[-1].argmax())
        note = (
            f"Layer {layer}, head {head}: the last character, {shown_char(last)!r}, attends most to "
            f"{shown_char(view['characters'][strongest])!r} ({float(weights[-1, strongest]):.0%} of its attention), "
            f"{len(view['characters']) - 1 - strongest} characters back. Sampling keeps "
            f"{int((view['sampling'] > 0).sum())} of {len(view['sampling'])} characters."
        )
        return attention_map(weights, view["characters"]), next_character_chart(before, after), note

    def step(text: str, temperature: float, top_k: float, top_p: float, seed: float):
        """Sample the next character from the warped distribution and append it."""
        if not isinstance(text, str) or not text:
            raise gr.Error("Type some text first, for example ROMEO:")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        seed = bounded(seed, 0, 2**31 - 1, "The seed is a whole number from 0.")
        view = inside_view(tokenizer, model, text[-4 * MAX_INSIDE_CHARS :], temperature, top_k, top_p)
        chosen = int(torch.multinomial(view["sampling"], 1, generator=torch.Generator().manual_seed(seed)))
        character = tokenizer.convert_ids_to_tokens(chosen)
        rank = int((view["sampling"] > view["sampling"][chosen]).sum()) + 1
        note = (
            f"Drew {shown_char(character)!r}: probability {float(view['sampling'][chosen]):.1%} after the warpers "
            f"({float(view['probabilities'][chosen]):.1%} before), the #{rank} choice."
        )
        return text + character, seed + 1, note

    return look, step


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
        if hasattr(model.config, "n_head"):
            inside_tab(tokenizer, model, temperature, top_k, top_p)
        if write_rnn is not None:
            rnn_inside_tab(rnn_tokenizer, rnn)
    return demo


# ---------------------------------------------------------------------------------------------------------------
# Inside the RNN: one hidden unit's activation along a text, and the units that respond to kinds of characters

RNN_SAMPLE = (
    "MENENIUS:\nWhat is the city but the people?\n\nCitizens:\nTrue,\nThe people are the city.\n\n"
    "BRUTUS:\nBy the consent of all, we were establish'd\nThe people's magistrates.\n"
)
MAX_RNN_CHARS = 2000
KINDS = {
    "line ends": lambda c: c == "\n",
    "capitals": str.isupper,
    "quotes and apostrophes": lambda c: c in "'\"",
    "spaces": lambda c: c == " ",
    "punctuation": lambda c: c in ",.;:!?-",
}
NEGATIVE, POSITIVE = (245, 147, 34), (8, 119, 189)


def unit_activations(tokenizer, model, text: str) -> tuple[list[str], list[torch.Tensor]]:
    """The characters of `text` and, for each recurrent layer, its output at every character (seq, hidden_size): the
    model's `hidden_states` (after the embedding), read in one pass with the state carried along."""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        outputs = model(input_ids=ids, output_hidden_states=True)
    return tokenizer.convert_ids_to_tokens(ids[0].tolist()), [layer[0] for layer in outputs.hidden_states[1:]]


def responsive_units(activations: torch.Tensor, selected: torch.Tensor, count: int = 5) -> list[tuple[int, float]]:
    """The units whose mean activation on the `selected` characters differs most from their mean on the others:
    (unit, difference), largest difference first."""
    if selected.all() or not selected.any():
        return []
    difference = activations[selected].mean(0) - activations[~selected].mean(0)
    order = difference.abs().argsort(descending=True)[:count]
    return [(int(unit), float(difference[unit])) for unit in order]


def colored_text(characters: list[str], values: torch.Tensor) -> str:
    """The text as HTML, each character's background coloured by its value: blue above zero, orange below."""
    scale = float(values.abs().max()) or 1.0
    spans = []
    for character, value in zip(characters, values.tolist()):
        strength = min(1.0, abs(value) / scale)
        color = POSITIVE if value >= 0 else NEGATIVE
        rgb = ", ".join(str(round(255 + (channel - 255) * strength)) for channel in color)
        shown = html.escape("⏎\n" if character == "\n" else character)
        spans.append(f'<span title="{value:+.3f}" style="background: rgb({rgb})">{shown}</span>')
    return (
        '<div class="unit-text" style="font-family: monospace; white-space: pre-wrap; line-height: 1.6">'
        + "".join(spans)
        + "</div>"
    )


def make_rnn_inside(tokenizer, model):
    def show(text: str, layer: float, unit: float):
        if not isinstance(text, str) or not text.strip():
            raise gr.Error("Type some text first.")
        if len(text) > MAX_RNN_CHARS:
            raise gr.Error(f"Keep the text under {MAX_RNN_CHARS} characters.")
        layer = bounded(layer, 1, model.config.num_layers, f"Choose a layer from 1 to {model.config.num_layers}.")
        unit = bounded(
            unit, 0, model.config.hidden_size - 1, f"Choose a unit from 0 to {model.config.hidden_size - 1}."
        )
        characters, layers = unit_activations(tokenizer, model, text)
        if not characters:
            raise gr.Error("The text holds no character the model knows.")
        activations = layers[layer - 1]
        rows = []
        for kind, test in KINDS.items():
            selected = torch.tensor([test(character) for character in characters])
            for found, difference in responsive_units(activations, selected, count=3):
                rows.append([kind, found, round(difference, 3)])
        values = activations[:, unit]
        note = (
            f"Layer {layer}, unit {unit}: from {float(values.min()):+.2f} to {float(values.max()):+.2f} along "
            f"{len(characters)} characters (hover a character for its value)."
        )
        return colored_text(characters, values), rows, note

    return show


def rnn_inside_tab(tokenizer, model) -> None:
    """The recurrent network seen from inside: a hidden unit's activation along a text, character by character."""
    show = make_rnn_inside(tokenizer, model)
    with gr.Accordion("Inside the RNN: one unit along a text", open=False, elem_id="rnn-inside"):
        gr.Markdown(
            "Each of the RNN's hidden units is a number carried from character to character. Pick one and see it "
            "along a text: blue where it is high, orange where it is low. The table lists, for kinds of "
            "characters, the units whose value differs most on them from elsewhere: some of them track line ends, "
            "capitals (a speaker's name) or the inside of a word."
        )
        text = gr.Textbox(value=RNN_SAMPLE, label="Text", lines=6, max_length=MAX_RNN_CHARS, elem_id="rnn-inside-text")
        with gr.Row():
            layers = list(range(1, model.config.num_layers + 1))
            layer = gr.Dropdown(layers, value=layers[-1], label="Layer", elem_id="rnn-layer")
            unit = gr.Number(value=0, precision=0, minimum=0, maximum=model.config.hidden_size - 1, label="Unit")
            button = gr.Button("Show the unit", variant="primary", elem_id="show-unit")
        note = gr.Markdown(elem_id="rnn-inside-note")
        colored = gr.HTML(elem_id="unit-text")
        table = gr.Dataframe(
            headers=["characters", "unit", "difference"],
            label="Units that respond to kinds of characters (select a row to show that unit)",
            elem_id="responsive-units",
        )
        button.click(show, [text, layer, unit], [colored, table, note], api_name="rnn_unit")

        def pick(rows, event: gr.SelectData):
            return int(rows.iloc[event.index[0]]["unit"]) if event.index is not None else gr.skip()

        table.select(pick, table, unit).then(show, [text, layer, unit], [colored, table, note], api_name=False)


def inside_tab(tokenizer, model, temperature, top_k, top_p) -> None:
    """The GPT seen from inside, on the last characters of a text: each layer's and head's attention, and the next
    character's distribution before and after the sampling settings above; one character at a time."""
    look, step = make_inside(tokenizer, model)
    with gr.Accordion("Inside the GPT: attention and the next character", open=False, elem_id="inside"):
        gr.Markdown(
            "Each row is a character reading the ones before it: the darker a cell, the more attention it pays "
            "to that column's character (the hatched cells are the future, hidden by the causal mask). The bars "
            "show the next character's probabilities, and what the temperature, top-k and top-p above leave to "
            "draw from. Press *Next character* to draw one and see where it came from. In the pictures `_` is a "
            "space and `/` a line end."
        )
        text = gr.Textbox(value="ROMEO:\nWhat", label="Text (its last 64 characters)", lines=2, elem_id="inside-text")
        with gr.Row():
            layers, heads = range(1, model.config.n_layer + 1), range(1, model.config.n_head + 1)
            layer = gr.Dropdown(list(layers), value=model.config.n_layer, label="Layer", elem_id="layer")
            head = gr.Dropdown(list(heads), value=1, label="Head", elem_id="head")
            seed = gr.Number(value=0, precision=0, label="Seed of the next draw")
        with gr.Row():
            look_button = gr.Button("Look inside", variant="primary", elem_id="look")
            step_button = gr.Button("Next character", elem_id="next-character")
        note = gr.Markdown(elem_id="inside-note")
        with gr.Row():
            attention = gr.Image(
                label="Attention (rows: reading; columns: read)", show_label=False, format="png", elem_id="attention"
            )
            chart = gr.Image(label="The next character", show_label=False, format="png", elem_id="next-chart")
        settings = [temperature, top_k, top_p]
        look_inputs = [text, layer, head, *settings]
        look_button.click(look, look_inputs, [attention, chart, note], api_name="inside")
        step_button.click(step, [text, *settings, seed], [text, seed, note], api_name="next_character").then(
            look, look_inputs, [attention, chart, note], api_name=False
        )


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
