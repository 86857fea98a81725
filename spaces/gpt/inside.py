"""Inside the GPT: each layer's and head's attention, and the next character's distribution before and after the
sampling settings, from the model's own outputs."""

import gradio as gr
import torch
from PIL import Image, ImageDraw, ImageFont

from ..inputs import MAX_SEED, Refused, bounded

MAX_INSIDE_CHARS = 64  # the attention view reads at most this many characters
TOP_CHARACTERS = 12


def inside_length(model) -> int:
    """How many of a text's last characters the views read: MAX_INSIDE_CHARS, or fewer for a shorter context."""
    return min(MAX_INSIDE_CHARS, model.config.n_positions)


def shown_char(token: str) -> str:
    """A character as the pictures label it: a line end as "/", a space as "_" (the pictures' font has no symbols)."""
    return {"\n": "/", " ": "_"}.get(token, token)


LABEL_FONT = ImageFont.load_default(size=12)


def attention_map(weights: torch.Tensor, characters: list[str], width: int = 1100) -> Image.Image:
    """One head's attention (query rows, key columns) as a grid about `width` pixels wide (shown at that size, its
    12 px labels readable at 64 characters): darker is more attention; the cells above the diagonal, which the
    causal mask hides from each query, are hatched grey."""
    size = len(characters)
    cell = max(16, min(28, (width - 24) // max(size, 1)))
    margin = 24
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
        label = shown_char(character)
        pen.text((margin + index * cell + cell / 2, 4), label, fill=(0, 0, 0), font=LABEL_FONT, anchor="mt")
        pen.text((margin / 2, margin + index * cell + cell / 2), label, fill=(0, 0, 0), font=LABEL_FONT, anchor="mm")
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

    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[:, -inside_length(model) :]
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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def make_inside(tokenizer, model):
    def look(text: str, layer: float, head: float, temperature: float, top_k: float, top_p: float):
        if not isinstance(text, str) or not text:
            raise Refused("Type some text first, for example ROMEO:")
        layer = bounded(layer, 1, model.config.n_layer, f"Choose a layer from 1 to {model.config.n_layer}.")
        head = bounded(head, 1, model.config.n_head, f"Choose a head from 1 to {model.config.n_head}.")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        view = inside_view(tokenizer, model, text[-4 * MAX_INSIDE_CHARS :], temperature, top_k, top_p)
        if not view["characters"]:
            raise Refused("The text holds no character the model knows.")
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
            f"{plural(len(view['characters']) - 1 - strongest, 'character')} back. Sampling keeps "
            f"{int((view['sampling'] > 0).sum())} of {len(view['sampling'])} characters."
        )
        return attention_map(weights, view["characters"]), next_character_chart(before, after), note

    def step(text: str, temperature: float, top_k: float, top_p: float, seed: float):
        """Sample the next character from the warped distribution and append it."""
        if not isinstance(text, str) or not text:
            raise Refused("Type some text first, for example ROMEO:")
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        top_k = bounded(top_k, 0, 200, "top-k is a whole number from 0 (off) to 200.")
        top_p = bounded(top_p, 0.05, 1, "top-p runs from 0.05 to 1.", whole=False)
        seed = bounded(seed, 0, MAX_SEED, f"The seed is a whole number from 0 to {MAX_SEED}.")
        view = inside_view(tokenizer, model, text[-4 * MAX_INSIDE_CHARS :], temperature, top_k, top_p)
        chosen = int(torch.multinomial(view["sampling"], 1, generator=torch.Generator().manual_seed(seed)))
        character = tokenizer.convert_ids_to_tokens(chosen)
        rank = int((view["sampling"] > view["sampling"][chosen]).sum()) + 1
        note = (
            f"Drew {shown_char(character)!r}: probability {float(view['sampling'][chosen]):.1%} after the warpers "
            f"({float(view['probabilities'][chosen]):.1%} before), the #{rank} choice."
        )
        return text + character, seed + 1, note

    def look_after_step(text: str, layer: float, head: float, temperature: float, top_k: float, top_p: float, drawn):
        """The view of the text with its new character, below the note on how that character was drawn."""
        attention, chart, note = look(text, layer, head, temperature, top_k, top_p)
        return attention, chart, f"{drawn}\n\nNow {note[0].lower()}{note[1:]}"

    return look, step, look_after_step


def inside_tab(tokenizer, model, temperature, top_k, top_p) -> None:
    """The GPT seen from inside, on the last characters of a text: each layer's and head's attention, and the next
    character's distribution before and after the sampling settings above; one character at a time."""
    look, step, look_after_step = make_inside(tokenizer, model)
    with gr.Accordion("Inside the GPT: attention and the next character", open=False, elem_id="inside"):
        gr.Markdown(
            "Each row is a character reading the ones before it: the darker a cell, the more attention it pays "
            "to that column's character (the hatched cells are the future, hidden by the causal mask). The bars "
            "show the next character's probabilities, and what the temperature, top-k and top-p above leave to "
            "draw from. Press *Next character* to draw one and see where it came from. In the pictures `_` is a "
            "space and `/` a line end."
        )
        text = gr.Textbox(
            value="ROMEO:\nWhat",
            label=f"Text (its last {inside_length(model)} characters)",
            lines=2,
            elem_id="inside-text",
        )
        with gr.Row():
            layers, heads = range(1, model.config.n_layer + 1), range(1, model.config.n_head + 1)
            layer = gr.Dropdown(list(layers), value=model.config.n_layer, label="Layer", elem_id="layer")
            head = gr.Dropdown(list(heads), value=1, label="Head", elem_id="head")
            seed = gr.Number(value=0, precision=0, label="Seed of the next draw")
        with gr.Row():
            look_button = gr.Button("Look inside", variant="primary", elem_id="look")
            step_button = gr.Button("Next character", elem_id="next-character")
        note = gr.Markdown(elem_id="inside-note")
        # the map on a row of its own, at its own size: its labels stay readable at 64 characters
        attention = gr.Image(
            label="Attention (rows: reading; columns: read)", show_label=False, format="png", elem_id="attention"
        )
        chart = gr.Image(label="The next character", show_label=False, format="png", elem_id="next-chart")
        settings = [temperature, top_k, top_p]
        look_inputs = [text, layer, head, *settings]
        look_button.click(look, look_inputs, [attention, chart, note], api_name="inside", preprocess=False)
        step_button.click(
            step, [text, *settings, seed], [text, seed, note], api_name="next_character", preprocess=False
        ).then(look_after_step, [*look_inputs, note], [attention, chart, note], api_name=False)
        from .walk import walk_section  # walk.py builds on this module's helpers

        walk_section(tokenizer, model, text, layer, head, temperature)
