# %% [markdown]
# # 5. Two networks in a game
#
# A generative adversarial network (GAN) is two networks trained against each other. The **generator** turns random
# noise (and here, the digit asked for) into an image; the **discriminator** scores images, high for real ones, low
# for made-up ones. The discriminator learns to tell them apart; the generator learns to raise the score of what it
# makes. Here: the two networks of `mnist-gan`, the class-conditional GAN that ships with hfnets; a small GAN of the
# same classes trained in the notebook with the shipped one's recipe; and the shipped discriminator's scores for
# real digits, generated ones and noise.

# %%
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here


import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont
from torch.nn import functional as F

import hfnets
from course import mnist_digits

diffusers_logging.disable_progress_bar()
pipe = DiffusionPipeline.from_pretrained(hfnets.pretrained_path("mnist-gan"), trust_remote_code=True)
generator, discriminator = pipe.generator.eval(), pipe.discriminator.eval()
for name, network in (("generator", generator), ("discriminator", discriminator)):
    print(f"{name}: {sum(p.numel() for p in network.parameters()):,} weights")
print(generator)

train_images, train_labels, test_images, test_labels = mnist_digits()  # course.py, beside these notebooks
font = ImageFont.load_default(size=14)


def grid(images: torch.Tensor, columns: int, scale: int = 2) -> Image.Image:
    """Images in [0, 1], (N, 1, 28, 28), as rows of `columns`, enlarged `scale` times."""
    rows = -(-len(images) // columns)
    canvas = np.ones((rows * 30, columns * 30))
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        canvas[r * 30 + 1 : r * 30 + 29, c * 30 + 1 : c * 30 + 29] = image[0].numpy()
    picture = Image.fromarray((255 - canvas * 255).astype(np.uint8))  # dark ink on white paper
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


# %% [markdown]
# ## The generator: noise in, a digit out
# The pipeline draws 64 numbers of noise per image, and the generator maps them (with the digit asked for) to a
# 28x28 image in [-1, 1], which the pipeline shifts to [0, 1]. By hand: the same noise through `generator` gives
# the pipeline's image.

# %%
seed = torch.Generator().manual_seed(0)
latents = torch.randn(10, generator.config.latent_dim, generator=seed)
digits = torch.arange(10)
with torch.no_grad():
    by_hand = (generator(latents, digits).sample / 2 + 0.5).clamp(0, 1)
images = pipe(latents=latents, class_labels=digits.tolist(), output_type="pt").images
assert torch.allclose(images, by_hand, atol=1e-6)
display(grid(images, 10, 3))

# %% [markdown]
# ## The discriminator: an image in, a score out
# It scores "a real image of this digit": two strided convolutions, a score from the features, plus the projection
# of the features onto the digit's own direction (a projection discriminator). Trained with the hinge loss, it
# pushes real scores above +1 and generated ones below -1; the generator pushes its scores up.

# %%
real = torch.from_numpy(test_images[:10]).float()[:, None] / 255
real_labels = torch.from_numpy(test_labels[:10].astype(np.int64))
with torch.no_grad():
    scores = discriminator(real * 2 - 1, real_labels).logits  # the network itself, on [-1, 1] images
assert torch.allclose(pipe.discriminate(real, real_labels.tolist()).scores, scores, atol=1e-5)
print("scores of ten real test digits:", [round(s, 2) for s in scores.tolist()])

# %% [markdown]
# ## A small GAN, trained here
# New, small networks of the same two classes, trained on the 6,000 digits with the shipped GAN's recipe: the
# hinge loss, spectral normalization in the discriminator, and Adam with `beta1 = 0`. Each step, the discriminator
# learns from a batch of real digits and a batch of generated ones; then the generator learns from the
# discriminator's scores of fresh generated ones, for 16 passes over the digits (about 1,500 steps). The same noise
# is drawn every second epoch, so the pictures show the same ten "pens" learning to write.

# %%
from hfnets import GanDiscriminator, GanGenerator

torch.manual_seed(0)
small_g = GanGenerator(latent_dim=64, num_classes=10, base_channels=32)  # the shipped GAN's sizes
small_d = GanDiscriminator(num_classes=10, base_channels=32)
optimizer_g = torch.optim.Adam(small_g.parameters(), lr=2e-4, betas=(0.0, 0.9))
optimizer_d = torch.optim.Adam(small_d.parameters(), lr=4e-4, betas=(0.0, 0.9))
pixels = torch.from_numpy(train_images).float()[:, None] / 127.5 - 1  # [-1, 1], as the generator draws
labels = torch.from_numpy(train_labels.astype(np.int64))
fixed_noise, fixed_digits = torch.randn(10, 64), torch.arange(10)
losses, snapshots = {"discriminator": [], "generator": []}, []
started = time.perf_counter()
for epoch in range(16):
    small_g.train()
    order = torch.randperm(len(labels))
    for start in range(0, len(order) - 63, 64):
        batch = order[start : start + 64]
        real, real_labels = pixels[batch], labels[batch]
        fake_labels = torch.randint(0, 10, (64,))
        fake = small_g(torch.randn(64, 64), fake_labels).sample
        loss_d = (
            F.relu(1 - small_d(real, real_labels).logits).mean()
            + F.relu(1 + small_d(fake.detach(), fake_labels).logits).mean()
        )
        optimizer_d.zero_grad()
        loss_d.backward()
        optimizer_d.step()
        loss_g = -small_d(small_g(torch.randn(64, 64), fake_labels).sample, fake_labels).logits.mean()
        optimizer_g.zero_grad()
        loss_g.backward()
        optimizer_g.step()
        losses["discriminator"].append(loss_d.item())
        losses["generator"].append(loss_g.item())
    if epoch % 2 == 1:
        small_g.eval()
        with torch.no_grad():
            snapshots.append((small_g(fixed_noise, fixed_digits).sample / 2 + 0.5).clamp(0, 1))
        d_loss, g_loss = np.mean(losses["discriminator"][-93:]), np.mean(losses["generator"][-93:])
        print(f"epoch {epoch + 1}: D loss {d_loss:.3f}, G loss {g_loss:.3f} ({time.perf_counter() - started:.0f} s)")

# %% [markdown]
# The same noise every second epoch (a row each, the digits 0 to 9), then both losses step by step. The
# losses do not fall together to zero as a classifier's would: each network's gain is the other's loss.

# %%
rows = grid(torch.cat(snapshots), 10, 2)
labelled = Image.new("RGB", (rows.width + 70, rows.height + 22), "white")
labelled.paste(rows, (70, 22))
pen = ImageDraw.Draw(labelled)
pen.text((4, 2), "asked for", fill=(0, 0, 0), font=font)
for digit in range(10):
    pen.text((70 + digit * 60 + 26, 2), str(digit), fill=(0, 0, 0), font=font)
for epoch in range(len(snapshots)):
    pen.text((4, 22 + epoch * 60 + 22), f"epoch {2 * epoch + 2}", fill=(0, 0, 0), font=font)
display(labelled)

chart = Image.new("RGB", (620, 240), "white")
pen = ImageDraw.Draw(chart)
smoothed = {name: np.convolve(values, np.ones(20) / 20, mode="valid") for name, values in losses.items()}
low = min(float(v.min()) for v in smoothed.values())
high = max(float(v.max()) for v in smoothed.values())
pen.line([(50, 210), (600, 210)], fill=(150, 150, 150))
pen.line([(50, 30), (50, 210)], fill=(150, 150, 150))
for values, colour in zip(smoothed.values(), ((8, 119, 189), (245, 147, 34))):
    points = [(50 + i / len(values) * 550, 210 - (v - low) / (high - low) * 170) for i, v in enumerate(values)]
    pen.line(points, fill=colour, width=2)
pen.text((56, 6), "losses by step (20-step average):", fill=(0, 0, 0), font=font)
pen.text((300, 6), "discriminator", fill=(8, 119, 189), font=font)
pen.text((420, 6), "generator", fill=(245, 147, 34), font=font)
pen.text((4, 26), f"{high:.2f}", fill=(0, 0, 0), font=font)
pen.text((4, 200), f"{low:.2f}", fill=(0, 0, 0), font=font)
display(chart)

# %% [markdown]
# ## What the shipped discriminator thinks
# The shipped GAN trained for 20 epochs on all 60,000 digits. Its discriminator scores real test digits, digits its
# generator drew, the small GAN's digits and pure noise, each claiming to be the digit shown. Each group is scored
# as one batch, as in training (the discriminator looks at how varied a batch is).

# %%
count = 100
claimed = torch.from_numpy(test_labels[:count].astype(np.int64))
groups = {
    "real test digits": torch.from_numpy(test_images[:count]).float()[:, None] / 255,
    "the shipped generator's": pipe(
        class_labels=claimed.tolist(), generator=torch.Generator().manual_seed(1), output_type="pt"
    ).images,
    "the small GAN's": (small_g(torch.randn(count, 64), claimed).sample.detach() / 2 + 0.5).clamp(0, 1),
    "noise": torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(2)),
}
picture = Image.new("RGB", (720, 4 * 70 + 10), "white")
pen = ImageDraw.Draw(picture)
for row, (name, images) in enumerate(groups.items()):
    scores = pipe.discriminate(images, claimed.tolist()).scores
    low, high = float(scores.min()), float(scores.max())
    print(f"{name:>24}: mean score {float(scores.mean()):+.2f} (from {low:+.2f} to {high:+.2f})")
    picture.paste(grid(images[:8], 8, 2), (200, row * 70 + 4))
    pen.text((6, row * 70 + 12), name, fill=(0, 0, 0), font=font)
    pen.text((6, row * 70 + 32), f"mean score {float(scores.mean()):+.2f}", fill=(0, 0, 0), font=font)
display(picture)
