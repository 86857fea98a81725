# %% [markdown]
# # 3. Convolutions
#
# An MLP gives every pixel its own weight, so a stroke moved by two pixels is news to it. A convolutional layer
# slides one small set of weights, a 3x3 kernel, over every position of the picture: the same detector everywhere.
# Here it is taken apart on `mnist-cnn`, the convolutional digit classifier that ships with hfnets (two blocks of
# two 3x3 convolutions each, then max-pooling): one kernel slid by hand, the feature maps it makes, and then a CNN
# of the same class trained from scratch on a small folder of photos, as you would on "cats or dogs".

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont
from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline
from transformers.utils import logging

import hfnets
from course import mnist_digits

logging.disable_progress_bar()  # quiet loading
folder = hfnets.pretrained_path("mnist-cnn")
model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)
print(model.features)

# %% [markdown]
# ## A digit
# From the MNIST test digits that ship with hfnets' Playground (`spaces/playground/digits-sample.npz`); without
# them, from the Hub's `ylecun/mnist`.

# %%
_, _, test_images, test_labels = mnist_digits()  # course.py, beside these notebooks
digit, label = test_images[0], int(test_labels[0])
x = processor(Image.fromarray(digit), return_tensors="pt")["pixel_values"]  # (1, 1, 28, 28), normalized
print("pixel_values:", tuple(x.shape), "label:", label)
display(Image.fromarray(digit).resize((112, 112), Image.NEAREST))

# %% [markdown]
# ## One kernel, slid by hand
# The first layer holds 32 kernels of 3x3 weights and a bias each. At every position, kernel 0 is laid over the
# 3x3 patch of pixels around it; the nine products and the bias add up to one number of its feature map. Around
# the edge the picture is padded with zeros, so the map keeps the picture's 28x28 size.

# %%
convolution = model.features[0][0]  # the first nn.Conv2d
kernel, bias = convolution.weight[0, 0].detach().numpy(), float(convolution.bias[0].detach())
print("kernel 0:\n", np.round(kernel, 3), "\nbias:", round(bias, 4))

picture = np.pad(x[0, 0].numpy(), 1)  # zero padding of one pixel all around
feature_map = np.zeros((28, 28))
for row in range(28):
    for column in range(28):
        patch = picture[row : row + 3, column : column + 3]
        feature_map[row, column] = (patch * kernel).sum() + bias

with torch.no_grad():
    model_map = convolution(x)[0, 0].numpy()  # the model's own first layer, channel 0
print("largest difference from the model's layer:", float(np.abs(feature_map - model_map).max()))
assert np.allclose(feature_map, model_map, atol=1e-5)

row, column = np.unravel_index(np.abs(feature_map).argmax(), feature_map.shape)  # where it answers most
patch = picture[row : row + 3, column : column + 3]
terms = " + ".join(f"{p:.2f}x{k:.2f}" for p, k in zip(patch.ravel(), kernel.ravel()))
print(f"at ({row}, {column}): {terms} + {bias:.2f} = {feature_map[row, column]:.3f}")


# %% [markdown]
# The first layer's 32 kernels and the 32 maps they make of the digit (after ReLU, which keeps what is above
# zero). Blue is positive, orange negative; each picture is on its own scale.


# %%
def colour(values: np.ndarray) -> np.ndarray:
    """Values as colours: orange below zero, white at zero, blue above."""
    t = np.clip(values / (np.abs(values).max() or 1.0), -1, 1)[..., None]
    white, blue, orange = np.array([255, 255, 255]), np.array([8, 119, 189]), np.array([245, 147, 34])
    return np.where(t < 0, white + (orange - white) * -t, white + (blue - white) * t).astype(np.uint8)


def mosaic(pictures: np.ndarray, scale: int, per_row: int, title: str) -> Image.Image:
    """Square pictures side by side, each enlarged `scale` times, under a title."""
    side = pictures.shape[-1] * scale + 4
    rows = -(-len(pictures) // per_row)
    canvas = Image.new("RGB", (per_row * side, rows * side + 24), "white")
    for index, values in enumerate(pictures):
        tile = Image.fromarray(colour(values)).resize((side - 4, side - 4), Image.NEAREST)
        canvas.paste(tile, ((index % per_row) * side + 2, 24 + (index // per_row) * side + 2))
    ImageDraw.Draw(canvas).text((4, 4), title, fill=(0, 0, 0), font=ImageFont.load_default(size=14))
    return canvas


with torch.no_grad():
    first_maps = model.features[0][1](convolution(x))[0].numpy()  # ReLU of the first layer
display(mosaic(convolution.weight[:, 0].detach().numpy(), 12, 16, "the 32 kernels of the first layer (3x3 each)"))
display(mosaic(first_maps, 3, 16, "their 32 feature maps of the digit (28x28 each)"))

# %% [markdown]
# ## Deeper maps
# Each block convolves twice and then max-pools (keeps the largest of every 2x2), halving the maps' size: the
# second block's 64 maps are 7x7, each reading a wider part of the digit. `output_hidden_states=True` returns
# every block's maps.

# %%
with torch.no_grad():
    output = model(x, output_hidden_states=True)
block_1, block_2 = output.hidden_states[0][0].numpy(), output.hidden_states[1][0].numpy()
print("block 1:", block_1.shape, "block 2:", block_2.shape)
display(mosaic(block_2, 6, 16, "the second block's 64 feature maps (7x7 each, after pooling)"))
probabilities = output.logits.softmax(-1)[0]
print("answer:", int(probabilities.argmax()), f"({float(probabilities.max()):.1%}); label:", label)

# %% [markdown]
# ## Your own photos: a CNN trained from scratch
# `scripts/train_cnn.py` trains a CNN of the same class on any folder of pictures, one subfolder per class, as
# `datasets`' imagefolder reads it. Here the folder is made in the notebook: photos of two kinds of toys, balls
# and blocks, in random colours, sizes and places over textured backgrounds. With your own photos, point
# `--train_dir` (and `--validation_dir`) at them; `accelerate launch` runs the same script on any hardware.

# %%
photos = Path("../runs/course/toys")  # in the clone's runs/, which git ignores
shutil.rmtree(photos, ignore_errors=True)  # a fresh folder on every run
rng = np.random.default_rng(0)


def photo(kind: str) -> Image.Image:
    """A 64x64 photo-like picture: a noisy background of one hue, and a ball (disc) or a block (square) on it."""
    background = rng.integers(40, 215, 3)
    pixels = np.clip(background + rng.normal(0, 25, (64, 64, 3)), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels)
    size, (left, top) = int(rng.integers(18, 34)), rng.integers(4, 28, 2)
    fill = tuple(int(c) for c in (255 - background + rng.integers(-40, 40, 3)).clip(0, 255))
    shape = ImageDraw.Draw(picture).ellipse if kind == "ball" else ImageDraw.Draw(picture).rectangle
    shape([left, top, left + size, top + size], fill=fill)
    return picture


for split, count in (("train", 300), ("val", 50)):
    for kind in ("ball", "block"):
        (photos / split / kind).mkdir(parents=True)
        for index in range(count):
            photo(kind).save(photos / split / kind / f"{kind}-{index}.jpg", quality=90)
examples = [Image.open(photos / "val" / kind / f"{kind}-{i}.jpg") for kind in ("ball", "block") for i in range(6)]
strip = Image.new("RGB", (12 * 68, 68), "white")
for index, example in enumerate(examples):
    strip.paste(example, (index * 68 + 2, 2))
display(strip)
print(photos, "holds", {split: len(list((photos / split).rglob("*.jpg"))) for split in ("train", "val")}, "photos")

# %%
scripts = Path("../scripts")
trained = photos.parent / "toys-cnn"
command = [
    sys.executable,  # or `accelerate launch`, with the same arguments, on GPUs or several processes
    str(scripts / "train_cnn.py"),
    "--train_dir", str(photos / "train"),
    "--validation_dir", str(photos / "val"),
    "--output_dir", str(trained),
    "--overwrite_output_dir",  # the notebook's own earlier run, if any
    "--num_channels", "3",
    "--image_size", "32",
    "--conv_channels", "16", "32",
    "--num_train_epochs", "10",
    "--per_device_train_batch_size", "32",
    "--learning_rate", "3e-3",
    "--seed", "0",
]  # fmt: skip
print("python", " ".join(command[1:]))
finished = subprocess.run(command, capture_output=True, text=True)
print(finished.stdout[-1500:] or finished.stderr[-3000:])
assert finished.returncode == 0, finished.stderr[-3000:]
results = json.loads((trained / "all_results.json").read_text())
print({name: value for name, value in results.items() if name.startswith("eval")})

# %% [markdown]
# The folder it wrote is a Hugging Face model: `pipeline("image-classification", ...)` loads it (its code travels
# with it, hence `trust_remote_code=True`) and classifies any photo. Its accuracy on the validation photos is the
# one the training script measured.

# %%
classify = pipeline("image-classification", model=str(trained), trust_remote_code=True)
validation = sorted((photos / "val").rglob("*.jpg"))
answers = classify([str(path) for path in validation], top_k=1)
right = sum(answer[0]["label"] == path.parent.name for answer, path in zip(answers, validation))
print(f"pipeline: {right} of {len(validation)} validation photos right ({right / len(validation):.1%})")
assert abs(right / len(validation) - results["eval_accuracy"]) < 0.03

shown = Image.new("RGB", (6 * 100, 100), "white")
pen = ImageDraw.Draw(shown)
for index, path in enumerate(validation[::16][:6]):
    answer = classify(str(path), top_k=1)[0]
    shown.paste(Image.open(path), (index * 100 + 18, 4))
    pen.text(
        (index * 100 + 8, 74),
        f"{answer['label']} {answer['score']:.0%}",
        fill=(0, 0, 0),
        font=ImageFont.load_default(size=14),
    )
display(shown)
