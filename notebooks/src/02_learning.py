# %% [markdown]
# # 2. Learning
#
# A network learns by measuring how wrong it is (the loss), finding how each weight moves that loss (its
# gradient, by backward propagation), and moving every weight a little against it. Here: the loss of one digit
# and its output layer's gradient by hand, equal to autograd's; one step of gradient descent; then a whole
# 784-128-10 network trained from scratch, saved and loaded back the Hugging Face way.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here

from pathlib import Path

import numpy as np
import torch
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont
from transformers import AutoImageProcessor, AutoModelForImageClassification
from transformers.utils import logging

import hfnets
from course import mnist_digits

logging.disable_progress_bar()  # quiet loading
folder = hfnets.pretrained_path("mnist-mlp")
model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)

train_images, train_labels, test_images, test_labels = mnist_digits()  # course.py, beside these notebooks


def pixels(images: np.ndarray) -> torch.Tensor:
    """MNIST digits (already 28x28 and centred) as the network reads them: scaled to 0-1 and normalized with the
    image processor's mean and standard deviation, flat."""
    mean, std = float(np.mean(processor.image_mean)), float(np.mean(processor.image_std))
    return (torch.from_numpy(images).float().reshape(len(images), -1) / 255 - mean) / std


# %% [markdown]
# ## The loss of one digit
# Softmax gives a probability to each digit; the cross-entropy loss is minus the log of the probability of the
# right one: 0 when the network is sure and right, large when it is sure and wrong.

# %%
x, y = pixels(train_images[:1]), int(train_labels[0])
with torch.no_grad():
    hidden = model(x, output_hidden_states=True).hidden_states[0][0]
    probabilities = model(x).logits.softmax(-1)[0]
loss_by_hand = -torch.log(probabilities[y])
output = model(x, labels=torch.tensor([y]))
print(f"label {y}: probability {float(probabilities[y]):.4f}, loss {float(loss_by_hand):.4f}")
assert torch.isclose(loss_by_hand, output.loss.detach(), atol=1e-5)

# %% [markdown]
# ## Its gradient, by hand
# For softmax with cross-entropy, the gradient of the loss with respect to the logits is `p - onehot(y)`; the
# output layer's weights then get `(p - onehot(y)) h^T`, where `h` is the hidden layer's output: a weight's blame
# is its output's error times its input. Autograd computes the same by backward propagation.

# %%
error = probabilities.clone()
error[y] -= 1
weight_gradient = torch.outer(error, hidden)
model.zero_grad()
output.loss.backward()
print("largest gradient of the output weights:", float(model.classifier.weight.grad.abs().max()))
assert torch.allclose(weight_gradient, model.classifier.weight.grad, atol=1e-6)
assert torch.allclose(error, model.classifier.bias.grad, atol=1e-6)

# %% [markdown]
# ## One step of gradient descent
# Every weight moves against its gradient, by the learning rate: `w <- w - lr * grad`. The loss on that digit
# goes down.

# %%
learning_rate = 0.05
with torch.no_grad():
    for parameter in model.parameters():
        parameter -= learning_rate * parameter.grad
    after = float(model(x, labels=torch.tensor([y])).loss)
print(f"loss before {float(loss_by_hand):.4f}, after one step {after:.4f}")
assert after < float(loss_by_hand)

# %% [markdown]
# ## Training a network from scratch
# The same step, over and over, on batches of digits: a new 784-128-10 network of the same class, trained with
# Adam for three passes (epochs) over the 6,000 training digits, and tested on 1,000 digits it never saw: about
# 90%.

# %%
config = type(model.config)(**{**model.config.to_dict(), "dropout": 0.0})
torch.manual_seed(0)
network = type(model)(config)
optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
inputs, targets = pixels(train_images), torch.from_numpy(train_labels.astype(np.int64))
test_inputs, test_targets = pixels(test_images), torch.from_numpy(test_labels.astype(np.int64))
losses = []
for epoch in range(3):
    order = torch.randperm(len(targets))
    for start in range(0, len(order), 64):
        batch = order[start : start + 64]
        loss = network(inputs[batch], labels=targets[batch]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = float((network(test_inputs).logits.argmax(-1) == test_targets).float().mean())
    print(f"epoch {epoch + 1}: training loss {np.mean(losses[-94:]):.3f}, test accuracy {accuracy:.1%}")
assert accuracy > 0.85  # about 90% from 6,000 digits in three epochs

canvas = Image.new("RGB", (520, 220), "white")
pen = ImageDraw.Draw(canvas)
smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")
top = float(smooth.max())
pen.line(
    [(40 + i / len(smooth) * 460, 190 - v / top * 170) for i, v in enumerate(smooth)], fill=(245, 147, 34), width=2
)
pen.line([(40, 190), (500, 190)], fill=(150, 150, 150))
pen.line([(40, 20), (40, 190)], fill=(150, 150, 150))
font = ImageFont.load_default(size=14)
pen.text((46, 4), f"training loss over {len(losses)} steps (from {top:.2f} down)", fill=(0, 0, 0), font=font)
display(canvas)

# %% [markdown]
# ## The library's own training script
# `scripts/train_mlp.py` does the same with everything around it: batches from a `datasets` dataset, Accelerate
# (one CPU, GPUs, several processes, mixed precision), a progress bar, checkpoints, and a saved model with its card.
# Online it trains on all 60,000 MNIST digits of the Hub's `ylecun/mnist`: ten epochs, well under a minute on two
# CPU cores once the data is downloaded, reach about 98%. Offline (`HF_HUB_OFFLINE=1`) it trains on the 7,000
# digits above, written as a dataset folder in the Hub's layout, as your own images would be.

# %%
import subprocess
import sys

import datasets
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature
from huggingface_hub import constants

datasets.disable_progress_bars()

work = Path("../runs/course")  # what the course writes, in the clone's runs/ (which git ignores)
if constants.HF_HUB_OFFLINE:
    dataset_name = work / "mnist-sample"
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=[str(d) for d in range(10)])})
    for split, images, digits in (("train", train_images, train_labels), ("test", test_images, test_labels)):
        rows = {"image": [Image.fromarray(image) for image in images], "label": digits.tolist()}
        Dataset.from_dict(rows, features=features).to_parquet(
            dataset_name / "data" / f"{split}-00000-of-00001.parquet"
        )
else:
    dataset_name = "ylecun/mnist"
trained = work / "mnist-mlp"
command = [
    sys.executable,
    "../scripts/train_mlp.py",
    "--dataset_name",
    str(dataset_name),
    "--output_dir",
    str(trained),
]
command += ["--num_train_epochs", "10", "--seed", "0", "--overwrite_output_dir"]  # the notebook's own earlier run
# (or `accelerate launch ../scripts/train_mlp.py ...`, with the same arguments)
print("python", " ".join(command[1:]))
finished = subprocess.run(command, capture_output=True, text=True)
assert finished.returncode == 0, finished.stderr[-3000:]
print(finished.stdout[-500:])
display(Image.open(trained / "mistakes.png"))  # the card's picture: test digits it got wrong, "label > answer"

# %% [markdown]
# ## Save it, load it back, share it
# `save_pretrained` writes the weights, the config and the model's code into a folder; `from_pretrained` reads it
# back, with `trust_remote_code=True` even where hfnets is not installed. `push_to_hub` sends the same folder to
# the Hub, given a token.

# %%
saved = work / "my-mnist-mlp"
network.save_pretrained(saved)
processor.save_pretrained(saved)
loaded = AutoModelForImageClassification.from_pretrained(saved, trust_remote_code=True).eval()
with torch.no_grad():
    assert torch.equal(loaded(test_inputs).logits, network.eval()(test_inputs).logits)
print(sorted(path.name for path in saved.iterdir()))

from huggingface_hub import get_token

if get_token() is None:
    print("No Hub token here: run `hf auth login` (or set HF_TOKEN), then network.push_to_hub('you/my-mnist-mlp').")
else:
    print("Logged in: network.push_to_hub('you/my-mnist-mlp') would upload this folder.")
