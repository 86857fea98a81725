# %% [markdown]
# # 4. Sequences
#
# Text comes one character after another. A recurrent network reads it so, carrying a state from each character to
# the next; a transformer reads every character at once and lets each look back at the ones before it (attention).
# Both ship with hfnets, trained on Shakespeare: `char-rnn` (an LSTM of two layers of 512 units) and `char-gpt` (a
# GPT of six blocks). Here: the LSTM's state carried by hand, equal to the model's own step; a unit that tracks the
# end of a line; one position's attention computed from its query and keys, equal to the model's; and generation
# with and without the cache.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here

import time

import numpy as np
import torch
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.utils import logging

import hfnets

logging.disable_progress_bar()  # quiet loading
rnn_folder = hfnets.pretrained_path("char-rnn")
tokenizer = AutoTokenizer.from_pretrained(rnn_folder, trust_remote_code=True)
rnn = AutoModelForCausalLM.from_pretrained(rnn_folder, trust_remote_code=True).eval()
print(
    rnn.config.rnn_type,
    rnn.config.num_layers,
    "layers of",
    rnn.config.hidden_size,
    "units;",
    len(tokenizer),
    "characters",
)

# Shakespeare's prologue to Romeo and Juliet (public domain), in the corpus's spelling
text = """Two households, both alike in dignity,
In fair Verona, where we lay our scene,
From ancient grudge break to new mutiny,
Where civil blood makes civil hands unclean.
From forth the fatal loins of these two foes
A pair of star-cross'd lovers take their life;
Whose misadventured piteous overthrows
Do with their death bury their parents' strife.
The fearful passage of their death-mark'd love,
And the continuance of their parents' rage,
Which, but their children's end, nought could remove,
Is now the two hours' traffic of our stage;
The which if you with patient ears attend,
What here shall miss, our toil shall strive to mend.
"""
ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
print(ids.shape[1], "characters; the first ten as ids:", ids[0, :10].tolist())

# %% [markdown]
# ## The LSTM's state, by hand
# At each character an LSTM layer takes its input `x` and its state (`h`, `c`) from the character before, and
# computes four gates from `W_ih x + W_hh h + b`: input `i`, forget `f`, candidate `g` and output `o`. The cell keeps
# `c = f * c + i * g` (forget some, write some), and shows `h = o * tanh(c)`, which is the next layer's input. The
# model's own step is `rnn(next_id, cache=cache)`: the cache holds the state between calls.


# %%
def lstm_step(layer: torch.nn.LSTM, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
    """One character through one LSTM layer, from its weights."""
    gates = layer.weight_ih_l0 @ x + layer.bias_ih_l0 + layer.weight_hh_l0 @ h + layer.bias_hh_l0
    i, f, g, o = gates.chunk(4)  # torch's order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


size = rnn.config.hidden_size
states = [(torch.zeros(size), torch.zeros(size)) for _ in rnn.layers]
cache = DynamicCache(config=rnn.config)
cells, largest = [], 0.0
with torch.no_grad():
    for position in range(ids.shape[1]):
        x = rnn.embedding.weight[ids[0, position]]
        for index, layer in enumerate(rnn.layers):
            states[index] = lstm_step(layer, x, *states[index])
            x = states[index][0]
        by_hand = rnn.lm_head(x)  # the scores of the next character
        model_step = rnn(ids[:, position : position + 1], cache=cache).logits[0, -1]  # the model's own step
        largest = max(largest, float((by_hand - model_step).abs().max()))
        cells.append(states[-1][1].clone())  # the last layer's cell
print(f"{ids.shape[1]} steps; largest difference from the model's logits: {largest:.2e}")
assert largest < 1e-4
with torch.no_grad():
    whole = rnn(ids).logits[0, -1]  # all at once: the same state at the end
assert torch.allclose(whole, by_hand, atol=1e-4)

# %% [markdown]
# ## A unit that knows where the line ends
# Verse lines run to about forty characters. Some cell of the last layer should count how far into its line the
# text is, so that the model can predict a line break: the unit whose value follows "characters since the last
# line break" most closely. Its value is drawn under every character, blue when high, orange when low.

# %%
cells = torch.stack(cells).numpy()  # (characters, units)
since_break, count = [], 0
for character in text:
    since_break.append(count)
    count = 0 if character == "\n" else count + 1
since_break = np.asarray(since_break, dtype=float)
correlations = np.array([np.corrcoef(cells[:, unit], since_break)[0, 1] for unit in range(size)])
correlations = np.nan_to_num(correlations)
unit = int(np.abs(correlations).argmax())
print(f"unit {unit}: correlation {correlations[unit]:+.2f} with the characters since the line began")

values = cells[:, unit] * np.sign(correlations[unit])
scale = np.abs(values).max()
font, small = ImageFont.load_default(size=15), ImageFont.load_default(size=9)
lines = text.splitlines()
picture = Image.new("RGB", (12 + 10 * (max(len(line) for line in lines[:6]) + 1), 22 * 6 + 30), "white")
pen = ImageDraw.Draw(picture)
pen.text(
    (6, 4), f"the last layer's unit {unit}, under each character (blue high, orange low)", fill=(0, 0, 0), font=font
)
offset = 0
for row, line in enumerate(lines[:6]):
    for column, character in enumerate(line + "\n"):
        t = float(np.clip(values[offset + column] / scale, -1, 1))
        colour = tuple(int(255 + (target - 255) * abs(t)) for target in ((8, 119, 189) if t > 0 else (245, 147, 34)))
        box = (6 + column * 10, 30 + row * 22, 16 + column * 10, 50 + row * 22)
        pen.rectangle(box, fill=colour)
        if character == "\n":  # a line break, written \n
            pen.text((box[0], box[1] + 5), "\\n", fill=(0, 0, 0), font=small)
        else:
            pen.text((box[0] + 1, box[1] + 1), character, fill=(0, 0, 0), font=font)
    offset += len(line) + 1
display(picture)

# %% [markdown]
# ## Attention, one position by hand
# In `char-gpt`, each block's attention gives every position a query `q` and a key `k` (rows of one matrix product
# with the block's normalized input), rotated by an angle that grows with the position (rotary embeddings). A
# position scores every earlier one by `q . k / sqrt(d)`, and softmax turns the scores into weights that add up to
# one; later positions are masked out. `output_attentions=True` returns the model's own weights.

# %%
gpt_folder = hfnets.pretrained_path("char-gpt")
gpt = AutoModelForCausalLM.from_pretrained(gpt_folder, trust_remote_code=True).eval()
window = ids[:, :64]  # the first 64 characters
with torch.no_grad():
    output = gpt(window, output_hidden_states=True, output_attentions=True)

layer, head, position = 2, 0, 40
block = gpt.transformer.h[layer]
d = gpt.config.n_embd // gpt.config.n_head
with torch.no_grad():
    normalized = block.ln_1(output.hidden_states[layer][0])  # the block's input, normalized: (64, n_embd)
    q, k, _ = block.attn.qkv(normalized).view(64, 3, gpt.config.n_head, d)[:, :, head].unbind(1)


def rotate(vectors: torch.Tensor) -> torch.Tensor:
    """Rotary embedding: each pair of dimensions (i, i + d/2) turned by position x theta^(-2i/d)."""
    frequencies = gpt.config.rope_theta ** (-torch.arange(0, d, 2).float() / d)
    angles = torch.arange(len(vectors))[:, None].float() * frequencies
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    first, second = vectors[:, : d // 2], vectors[:, d // 2 :]
    return vectors * cos + torch.cat([-second, first], -1) * sin


q, k = rotate(q), rotate(k)
scores = k[: position + 1] @ q[position] / d**0.5  # this position and every earlier one
weights = torch.softmax(scores, -1)
model_weights = output.attentions[layer][0, head, position]
print(f"position {position} ({text[position]!r}) in block {layer + 1}, head {head}:")
print("by hand:", [round(w, 3) for w in weights.tolist()[-6:]], "(the last six)")
assert torch.allclose(weights, model_weights[: position + 1], atol=1e-5)
assert float(model_weights[position + 1 :].abs().sum()) == 0  # the future is masked

chart = Image.new("RGB", (700, 200), "white")
pen = ImageDraw.Draw(chart)
pen.text((6, 4), f"where position {position} looks (block {layer + 1}, head {head})", fill=(0, 0, 0), font=font)
top = float(weights.max())
for index, weight in enumerate(weights.tolist()):
    left = 10 + index * 16
    pen.rectangle((left, 170 - weight / top * 130, left + 12, 170), fill=(8, 119, 189))
    shown, face = (text[index], font) if text[index] != "\n" else ("\\n", small)
    pen.text((left + 2, 174), shown, fill=(0, 0, 0) if index != position else (245, 147, 34), font=face)
display(chart)

# %% [markdown]
# ## Generating, with and without the cache
# `generate` writes one character at a time, each time reading everything so far. With the cache, the keys and
# values of the characters already read are kept and only the new one is computed: the same text, sooner.

# %%
prompt = tokenizer("ROMEO:\n", return_tensors="pt", add_special_tokens=False)
timings, texts = {}, {}
for use_cache in (True, False):
    started = time.perf_counter()
    written = gpt.generate(**prompt, max_new_tokens=100, do_sample=False, use_cache=use_cache)
    timings[use_cache], texts[use_cache] = time.perf_counter() - started, tokenizer.decode(written[0])
assert texts[True] == texts[False]
print(texts[True])
print(f"100 characters: {timings[True]:.2f} s with the cache, {timings[False]:.2f} s without")
