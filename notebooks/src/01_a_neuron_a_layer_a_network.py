# %% [markdown]
# # 1. A neuron, a layer, a network
#
# The textbook network reads a 28x28 digit as 784 numbers, passes them through one hidden layer of 128 units
# and answers with ten probabilities, one per digit. Here it is taken apart on the trained model that ships with
# hfnets, `mnist-mlp` (784-128-10, ReLU, softmax): a single neuron by hand, then a whole layer, then the whole
# forward pass, each checked against the model's own answer.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here


import numpy as np
import torch
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont
from transformers import AutoImageProcessor, AutoModelForImageClassification
from transformers.utils import logging

import hfnets

logging.disable_progress_bar()  # quiet loading
folder = hfnets.pretrained_path("mnist-mlp")  # the trained model installed with hfnets
model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)
print(type(model).__name__, model.config.input_size, model.config.hidden_sizes, model.config.num_labels)

# %% [markdown]
# ## A digit
# The course reads 7,000 MNIST digits that ship with hfnets (`course.mnist_digits`, beside these notebooks;
# without the file, the same digits come from the Hub's `ylecun/mnist`). The first test digit:

# %%
from course import mnist_digits

_, _, digits, labels = mnist_digits()
image = Image.fromarray(digits[0])
display(image.resize((112, 112), Image.NEAREST))
print("its label:", labels[0])

# %% [markdown]
# ## One neuron
# A neuron multiplies each input by a weight (the "volume" of that connection), adds them up with a bias, and
# passes the sum through an activation function. ReLU keeps a positive sum and turns a negative one into 0.

# %%
x = processor(image, return_tensors="pt")["pixel_values"].reshape(1, 784)[0]  # the 784 inputs, normalized
first = model.hidden_layers[0]
w, b = first.weight[0].detach(), first.bias[0].detach()  # unit 0's 784 weights and its bias

weighted_sum = sum(float(w[i]) * float(x[i]) for i in range(784)) + float(b)  # one multiplication per connection
activation = max(weighted_sum, 0.0)  # ReLU
with torch.no_grad():
    hidden = model(x[None], output_hidden_states=True).hidden_states[0][0]  # the model's own hidden layer
print(f"unit 0: weighted sum {weighted_sum:.4f}, ReLU -> {activation:.4f}; the model says {float(hidden[0]):.4f}")
assert abs(activation - float(hidden[0])) < 1e-4

# %% [markdown]
# ## A layer: every neuron at once
# The 128 units do the same with their own weights: stacked, the weights are a 128x784 matrix `W`, and the
# layer is one matrix product, `relu(W x + b)`.

# %%
W, B = first.weight.detach(), first.bias.detach()
layer = torch.relu(W @ x + B)
print("units above zero:", int((layer > 0).sum()), "of", len(layer))
assert torch.allclose(layer, hidden, atol=1e-5)

# %% [markdown]
# ## The network: two layers and softmax
# The output layer weighs the 128 hidden values into ten logits; softmax turns them into probabilities that add
# up to one: `softmax(z)_k = exp(z_k) / sum_j exp(z_j)`.

# %%
W2, B2 = model.classifier.weight.detach(), model.classifier.bias.detach()
logits = W2 @ layer + B2
probabilities = torch.exp(logits - logits.max()) / torch.exp(logits - logits.max()).sum()
with torch.no_grad():
    model_probabilities = model(x[None]).logits.softmax(-1)[0]
print("by hand:", [f"{p:.3f}" for p in probabilities.tolist()])
print("answer:", int(probabilities.argmax()), f"({float(probabilities.max()):.1%})")
assert torch.allclose(probabilities, model_probabilities, atol=1e-5)

# %% [markdown]
# ## What each hidden unit looks for
# Unit k's 784 weights, laid out as the 28x28 image they multiply, show what it responds to: blue where ink raises
# its sum, orange where ink lowers it.


# %%
def colour(values: np.ndarray) -> np.ndarray:
    """Values as colours: orange below zero, white at zero, blue above (each picture on its own scale)."""
    t = np.clip(values / (np.abs(values).max() or 1.0), -1, 1)[..., None]
    white, blue, orange = np.array([255, 255, 255]), np.array([8, 119, 189]), np.array([245, 147, 34])
    return np.where(t < 0, white + (orange - white) * -t, white + (blue - white) * t).astype(np.uint8)


tiles = [colour(unit.reshape(28, 28)) for unit in W.numpy()]
rows = [
    np.concatenate([np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=230) for t in tiles[r : r + 16]], 1)
    for r in range(0, len(tiles), 16)
]
mosaic = Image.fromarray(np.concatenate(rows, 0))  # 16 units a row, 28x28 each
display(mosaic.resize((mosaic.width * 2, mosaic.height * 2), Image.NEAREST).quantize(64))  # twice the size, 64 colours

# %% [markdown]
# ## Activation functions side by side
# Without one, two layers collapse into a single linear map; with one, the network can bend. Sigmoid squashes into
# (0, 1), tanh into (-1, 1), ReLU keeps the positive part.

# %%
xs = torch.linspace(-4, 4, 200)
curves = {"sigmoid": torch.sigmoid(xs), "tanh": torch.tanh(xs), "ReLU": torch.relu(xs)}
canvas = Image.new("RGB", (3 * 220, 200), "white")
pen = ImageDraw.Draw(canvas)
for index, (name, ys) in enumerate(curves.items()):
    left = index * 220 + 10
    points = [(left + (float(a) + 4) / 8 * 200, 100 - float(b) * 22) for a, b in zip(xs, ys)]
    pen.line([(left, 100), (left + 200, 100)], fill=(200, 200, 200))
    pen.line([(left + 100, 10), (left + 100, 190)], fill=(200, 200, 200))
    pen.line(points, fill=(8, 119, 189), width=3)
    pen.text((left + 6, 8), name, fill=(0, 0, 0), font=ImageFont.load_default(size=16))
display(canvas)
