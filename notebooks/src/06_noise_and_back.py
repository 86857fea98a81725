# %% [markdown]
# # 6. Noise and back
#
# A diffusion model learns to undo noise. Training adds Gaussian noise to real images, a little or a lot (the
# timestep `t`, from 0 to 999), and teaches a network to tell what was added; drawing starts from pure noise and
# removes it step by step. Here, on `mnist-ddpm`, the class-conditional diffusion model that ships with hfnets (a
# diffusers `UNet2DModel` and `DDPMScheduler` in a pipeline): the forward noising from the schedule's formula,
# equal to the scheduler's `add_noise`; one reverse step by hand, equal to `scheduler.step`; classifier-free
# guidance at a few scales; and other schedulers swapped in.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets needed here

import time

import numpy as np
import torch
from diffusers import DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler
from diffusers.utils import logging as diffusers_logging
from IPython.display import display
from PIL import Image, ImageDraw, ImageFont

import hfnets
from course import mnist_digits

diffusers_logging.disable_progress_bar()
pipe = DiffusionPipeline.from_pretrained(hfnets.pretrained_path("mnist-ddpm"), trust_remote_code=True)
pipe.set_progress_bar_config(disable=True)
unet, scheduler = pipe.unet.eval(), pipe.scheduler
print(f"UNet: {sum(p.numel() for p in unet.parameters()):,} weights; scheduler: {type(scheduler).__name__}")
print(
    {
        key: scheduler.config[key]
        for key in ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "prediction_type")
    }
)

_, _, test_images, test_labels = mnist_digits()  # course.py, beside these notebooks
digit, label = test_images[0], int(test_labels[0])
font = ImageFont.load_default(size=14)


def strip(images: torch.Tensor, captions: list[str], scale: int = 3) -> Image.Image:
    """Images in [-1, 1], (N, 1, 28, 28), side by side with a caption under each."""
    side = 28 * scale + 10
    canvas = Image.new("RGB", (side * len(images), side + 22), "white")
    pen = ImageDraw.Draw(canvas)
    for index, (image, caption) in enumerate(zip(images, captions)):
        pixels = ((1 - (image[0].clamp(-1, 1) + 1) / 2) * 255).numpy().astype(np.uint8)  # dark ink on white
        canvas.paste(Image.fromarray(pixels).resize((28 * scale, 28 * scale), Image.NEAREST), (index * side + 5, 4))
        pen.text((index * side + 5, side - 2), caption, fill=(0, 0, 0), font=font)
    return canvas


# %% [markdown]
# ## Forward: noise added from the schedule's formula
# The schedule is a list of small noise amounts `beta_t`, rising linearly from 0.0001 to 0.02. Keeping
# `alpha_t = 1 - beta_t` of the signal at each step, after `t` steps the image keeps `alpha_bar_t`, the product of
# them all, and a noisy image can be made in one go: `x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise`.

# %%
x0 = torch.from_numpy(digit).float()[None, None] / 127.5 - 1  # the digit in [-1, 1]
betas = torch.linspace(scheduler.config.beta_start, scheduler.config.beta_end, scheduler.config.num_train_timesteps)
alpha_bar = torch.cumprod(1 - betas, 0)
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
chosen = [0, 50, 100, 250, 500, 750, 999]
noisy = []
for t in chosen:
    by_hand = alpha_bar[t].sqrt() * x0 + (1 - alpha_bar[t]).sqrt() * noise
    noisy.append(scheduler.add_noise(x0, noise, torch.tensor([t])))
    assert torch.allclose(by_hand, noisy[-1], atol=1e-5)
display(strip(torch.cat(noisy), [f"t={t}: {float(alpha_bar[t].sqrt()):.2f}" for t in chosen]))
print("under each: t and sqrt(alpha_bar_t), how much of the digit is left")

# %% [markdown]
# ## Back: one reverse step by hand
# This UNet predicts `v = sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x_0` (v-prediction). From it, the step
# first estimates the clean image, `x_0 = sqrt(alpha_bar_t) x_t - sqrt(1 - alpha_bar_t) v` (clipped to [-1, 1]),
# then moves to the earlier timestep `s`: the mean of `x_s` given `x_t` and `x_0`, plus a little fresh noise of
# variance `beta_t (1 - alpha_bar_s) / (1 - alpha_bar_t)`. Over 50 steps, each jumps 20 timesteps.

# %%
scheduler.set_timesteps(50)
t = int(scheduler.timesteps[10])  # a step with much noise left
s = t - scheduler.config.num_train_timesteps // 50
x_t = scheduler.add_noise(x0, noise, torch.tensor([t]))
with torch.no_grad():
    v = unet(x_t, t, class_labels=torch.tensor([label])).sample

a_t, a_s = alpha_bar[t], alpha_bar[s]
beta = 1 - a_t / a_s  # the noise between timestep s and t
x0_estimate = (a_t.sqrt() * x_t - (1 - a_t).sqrt() * v).clamp(-1, 1)
mean = (a_s.sqrt() * beta / (1 - a_t)) * x0_estimate + ((1 - beta).sqrt() * (1 - a_s) / (1 - a_t)) * x_t
fresh = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
x_s = mean + (beta * (1 - a_s) / (1 - a_t)).sqrt() * fresh

stepped = scheduler.step(v, t, x_t, generator=torch.Generator().manual_seed(7))
difference = float((x_s - stepped.prev_sample).abs().max())
print(f"from t={t} to t={s}: largest difference from scheduler.step: {difference:.1e}")
assert torch.allclose(x0_estimate, stepped.pred_original_sample, atol=1e-5)
assert torch.allclose(x_s, stepped.prev_sample, atol=1e-5)
display(strip(torch.cat([x_t, x0_estimate, x_s]), [f"x_t (t={t})", "x_0 guess", f"x_s (s={s})"]))

# %% [markdown]
# ## Classifier-free guidance
# The UNet was trained with the digit's class, and sometimes with a "no class" label instead, so it can predict
# both ways. Guidance `w` moves the prediction further in the class's direction: `uncond + w (cond - uncond)`.
# `w = 1` is the class-conditional model alone; larger `w` draws the class more plainly and with less variety. The
# same noise for every row; DPM-Solver with 25 steps draws them (see the last section).

# %%
pipe.scheduler = DPMSolverMultistepScheduler.from_config(scheduler.config)
scales = [1.0, 1.2, 2.0, 4.0]
rows = []
for scale in scales:
    images = pipe(
        class_labels=list(range(10)),
        guidance_scale=scale,
        num_inference_steps=25,
        generator=torch.Generator().manual_seed(0),
        output_type="pt",
    ).images
    rows.append(strip(images * 2 - 1, [str(d) for d in range(10)], scale=2))
guided = Image.new("RGB", (rows[0].width + 90, len(rows) * rows[0].height), "white")
for index, (row, scale) in enumerate(zip(rows, scales)):
    guided.paste(row, (90, index * row.height))
    ImageDraw.Draw(guided).text((6, index * row.height + 24), f"guidance {scale:g}", fill=(0, 0, 0), font=font)
display(guided)

# %% [markdown]
# ## Schedulers swapped in
# The scheduler is the sampling method; the UNet stays. DDPM walks back through all 1,000 timesteps; DDIM and
# DPM-Solver take larger, deterministic steps from the same trained network (`from_config` keeps its schedule). The
# same noise, three schedulers, five digits; the time each takes is printed.

# %%
samplers = {
    "DDPM, 1000 steps": (type(scheduler).from_config(scheduler.config), 1000),
    "DDIM, 50 steps": (DDIMScheduler.from_config(scheduler.config), 50),
    "DPM-Solver, 25 steps": (DPMSolverMultistepScheduler.from_config(scheduler.config), 25),
}
rows, digits = [], [5, 6, 7, 8, 9]
for name, (swapped, steps) in samplers.items():
    pipe.scheduler = swapped
    started = time.perf_counter()
    images = pipe(
        class_labels=digits,
        guidance_scale=1.2,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
        output_type="pt",
    ).images
    print(f"{name}: {time.perf_counter() - started:.1f} s for five digits")
    rows.append((name, strip(images * 2 - 1, [str(d) for d in digits], scale=2)))
compared = Image.new("RGB", (rows[0][1].width + 170, len(rows) * rows[0][1].height), "white")
for index, (name, row) in enumerate(rows):
    compared.paste(row, (170, index * row.height))
    ImageDraw.Draw(compared).text((6, index * row.height + 24), name, fill=(0, 0, 0), font=font)
display(compared)
