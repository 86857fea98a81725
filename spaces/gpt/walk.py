"""Inside the GPT, one position followed through a block: its character's embedding, the block's LayerNorm, the
query, key and value of one head, the masked scores against every earlier position, the softmax, the weighted sum
of values, the MLP, and at the end the next-character logits with the temperature. Every number is recomputed from
the block's own modules and checked against the model's `hidden_states` and `attentions`."""

import inspect
import math

import gradio as gr
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F

from ..inputs import Refused, bounded
from ..pictures import png_file
from .inside import inside_length, shown_char

FONT = ImageFont.load_default(size=13)
TOP_KEYS = 6


def rotary_angles(attention, seq: int):
    """The model's own rotary (cos, sin) for positions 0..seq-1, or None where it learns position embeddings."""
    if attention.config.position_embedding_type != "rotary":
        return None
    modeling = inspect.getmodule(type(attention))  # the model's own code, wherever it was loaded from
    return modeling.rotary_cos_sin(torch.arange(seq)[None], attention.head_dim, attention.config.rope_theta)


def head_vectors(block, hidden: torch.Tensor, head: int, rotary):
    """One head's queries, keys and values for every position of a block's input (seq, head_dim each), rotated by
    the model's own rotary function where it has one."""
    attention = block.attn
    seq = hidden.shape[0]
    q, k, v = attention.qkv(block.ln_1(hidden)).view(seq, 3, attention.n_head, attention.head_dim).unbind(1)
    q, k, v = q[:, head], k[:, head], v[:, head]
    if rotary is not None:
        rotate_half = inspect.getmodule(type(attention)).rotate_half
        cos, sin = rotary[0][0, 0], rotary[1][0, 0]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    return q, k, v


@torch.no_grad()
def follow(tokenizer, model, text: str, position: int, layer: int, head: int, temperature: float) -> dict:
    """Every number of one position's way through block `layer` (0-based) and one of its heads, and the logits it
    ends on; `position` counts from 0 in the last `inside_length(model)` characters of `text`."""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[:, -inside_length(model) :]
    characters = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    outputs = model(input_ids=ids, output_hidden_states=True, output_attentions=True)
    block = model.transformer.h[layer]
    hidden = outputs.hidden_states[layer][0]  # the block's input, every position
    rotary = rotary_angles(block.attn, ids.shape[1])
    q, k, v = head_vectors(block, hidden, head, rotary)
    scores = k[: position + 1] @ q[position] / math.sqrt(q.shape[-1])  # earlier positions only: the causal mask
    weights = scores.softmax(-1)
    head_output = weights @ v[: position + 1]
    # the whole attention at this position (every head, projected), the residual, the MLP and its residual
    attended = block.attn(block.ln_1(hidden)[None], rotary, None, None)[0][0, position]
    middle = hidden[position] + attended
    inner = F.gelu(block.mlp.fc(block.ln_2(middle)))
    after = middle + block.mlp.proj(inner)
    logits = outputs.logits[0, position].float()
    logits[tokenizer.all_special_ids] = float("-inf")
    return {
        "characters": characters,
        "embedding": model.transformer.wte.weight[ids[0, position]].detach(),
        "block_input": hidden[position],
        "q": q[position],
        "k": k[: position + 1],
        "v": v[: position + 1],
        "scores": scores,
        "weights": weights,
        "model_weights": outputs.attentions[layer][0, head, position, : position + 1],
        "head_output": head_output,
        "attended": attended,
        "mlp_active": int((inner > 0).sum()),
        "mlp_size": inner.numel(),
        "block_output": after,
        # the model records each block's input, and after the last block the final LayerNorm's output
        "block_output_as_recorded": model.transformer.ln_f(after) if layer == len(model.transformer.h) - 1 else after,
        "model_block_output": outputs.hidden_states[layer + 1][0, position],
        "probabilities": logits.softmax(-1),
        "tempered": (logits / temperature).softmax(-1),
    }


def weights_chart(characters: list[str], weights: torch.Tensor, position: int) -> Image.Image:
    """The softmax weights of one position over itself and every earlier one, a bar each, labelled with its
    character; the later positions (masked) shown empty."""
    count = len(characters)
    bar = max(12, min(40, 900 // count))
    left, top, height = 44, 28, 160
    image = Image.new("RGB", (left + bar * count + 10, top + height + 40), "white")
    pen = ImageDraw.Draw(image)
    pen.text(
        (left, 4),
        f"attention weights of position {position} (after softmax); grey: masked",
        fill=(40, 40, 40),
        font=FONT,
    )
    peak = float(weights.max()) or 1.0
    for tick in (0.0, 0.5, 1.0):
        y = top + height - tick * height
        pen.line([left, y, left + bar * count, y], fill=(230, 230, 230))
        pen.text((left - 6, y), f"{tick * peak:.2f}", fill=(100, 100, 100), font=FONT, anchor="rm")
    for index, character in enumerate(characters):
        x = left + index * bar
        if index <= position:
            value = float(weights[index]) / peak
            pen.rectangle([x + 1, top + height - value * height, x + bar - 2, top + height], fill=(8, 119, 189))
        else:
            pen.rectangle([x + 1, top, x + bar - 2, top + height], fill=(238, 238, 238))
        colour = (220, 30, 30) if index == position else (30, 30, 30)
        pen.text((x + bar / 2, top + height + 6), shown_char(character), fill=colour, font=FONT, anchor="mt")
    return image


def vector(values: torch.Tensor, shown: int = 6) -> str:
    head = ", ".join(f"{float(x):+.2f}" for x in values[:shown])
    return f"[{head}, …] ({values.numel()} numbers, length {float(values.norm()):.2f})"


def walkthrough_text(view: dict, tokenizer, position: int, layer: int, head: int, temperature: float) -> str:
    characters, weights = view["characters"], view["weights"]
    here = shown_char(characters[position])
    order = torch.argsort(weights, descending=True)[:TOP_KEYS]
    rows = "\n".join(
        f"| {j} | `{shown_char(characters[j])}` | {float(view['scores'][j]):+.2f} | **{float(weights[j]):.1%}** |"
        for j in order.tolist()
    )
    top = torch.argsort(view["tempered"], descending=True)[:5]
    choices = ", ".join(
        f"`{shown_char(tokenizer.convert_ids_to_tokens(int(i)))}` {float(view['probabilities'][i]):.1%} → "
        f"**{float(view['tempered'][i]):.1%}**"
        for i in top
    )
    following = ""
    if position + 1 < len(characters):
        actual = tokenizer.convert_tokens_to_ids(characters[position + 1])
        following = (
            f" The text's next character is `{shown_char(characters[position + 1])}`: "
            f"{float(view['tempered'][actual]):.1%} at this temperature."
        )
    agree = float((view["block_output_as_recorded"] - view["model_block_output"]).abs().max())
    return f"""**1. The character.** Position {position} holds `{here}`. Its embedding is a row of the embedding
table: {vector(view["embedding"])}. (`_` is a space, `/` a line end.)

**2. Into layer {layer + 1}.** After the layers before it, the position's vector is {vector(view["block_input"])}.
LayerNorm rescales it, then three learned matrices make head {head + 1}'s query, key and value for every position
(rotated by position, where the model uses rotary embeddings): the query here {vector(view["q"])}.

**3. Scores.** The query is compared with the key of this position and of each one before it (a dot product over
the square root of {view["q"].numel()}); the later positions are masked (the future is not seen). **4. Softmax**
turns the {position + 1} scores into weights that add up to 1. The largest:

| position | character | score | weight |
|---|---|---|---|
{rows}

**5. Weighted sum.** The head's output is the values of those positions mixed by the weights:
{vector(view["head_output"])}. All heads' outputs together, projected back, are what attention adds to the
position's vector (the residual): {vector(view["attended"])}.

**6. MLP.** LayerNorm again, then {view["mlp_size"]} GELU units ({view["mlp_active"]} of them above zero) and a
projection back, added once more: the block's output {vector(view["block_output"])} (the model's own hidden state
differs by {agree:.1e}).

**7. Logits.** After every layer, a final LayerNorm and the output matrix give a logit per character; divided by
the temperature {temperature:g} and softmaxed: {choices}.{following}"""


def make_walk(tokenizer, model):
    config = model.config

    def walk(text, position, layer, head, temperature):
        if not isinstance(text, str) or not text:
            raise Refused("Type some text first, for example ROMEO:")
        length = len(tokenizer(text, add_special_tokens=False).input_ids[-inside_length(model) :])
        position = bounded(position, 0, length - 1, f"Pick a position from 0 to {length - 1} (the text's last).")
        layer = bounded(layer, 1, config.n_layer, f"Pick a layer from 1 to {config.n_layer}.") - 1
        head = bounded(head, 1, config.n_head, f"Pick a head from 1 to {config.n_head}.") - 1
        temperature = bounded(temperature, 0.05, 2, "Temperature runs from 0.05 to 2.", whole=False)
        view = follow(tokenizer, model, text, position, layer, head, temperature)
        chart = weights_chart(view["characters"], view["weights"], position)
        return png_file(chart), walkthrough_text(view, tokenizer, position, layer, head, temperature)

    return walk


def walk_section(tokenizer, model, text, layer, head, temperature) -> None:
    """The walkthrough's part of the GPT's inside view; `text`, `layer`, `head` and `temperature` are its controls."""
    walk = make_walk(tokenizer, model)
    gr.Markdown(
        "### Follow one position through a block\nPick a position of the text (0 is the first of its last "
        f"{inside_length(model)} characters) and follow it through the chosen layer and head, number by number."
    )
    with gr.Row():
        position = gr.Slider(0, inside_length(model) - 1, value=5, step=1, label="Position", elem_id="walk-position")
        walk_button = gr.Button("Follow this position", variant="primary", elem_id="walk")
    chart = gr.Image(label="Attention weights", show_label=False, elem_id="walk-chart")
    steps = gr.Markdown(elem_id="walk-steps")
    walk_button.click(
        walk, [text, position, layer, head, temperature], [chart, steps], api_name="follow_position", preprocess=False
    )
