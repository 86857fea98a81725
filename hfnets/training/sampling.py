"""Samples during training: generated images laid out as one picture, and text drawn with a fixed seed, for logs,
model cards and eyes."""

import io

import numpy as np
import PIL.Image
import torch


def image_grid(images: torch.Tensor, rows: int) -> PIL.Image.Image:
    """(N, C, H, W) images in [0, 1] -> one PIL image of `rows` rows (N must be a multiple of `rows`)."""
    count, channels, height, width = images.shape
    if count % rows != 0:
        raise ValueError(f"{count} images do not fill {rows} rows evenly.")
    columns = count // rows
    grid = images.detach().float().clamp(0, 1).cpu().view(rows, columns, channels, height, width)
    grid = grid.permute(0, 3, 1, 4, 2).reshape(rows * height, columns * width, channels)  # (rows*H, cols*W, C)
    array = (grid.numpy() * 255).round().astype(np.uint8)
    return PIL.Image.fromarray(array[..., 0] if channels == 1 else array)


def png_bytes(image: PIL.Image.Image) -> bytes:
    """`image` as the bytes of a PNG file (for `save_pretrained_atomically(files=...)`)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sample_text(
    model, tokenizer, prompt: str, max_new_tokens: int, seed: int, context_length: int | None = None
) -> str:
    """A fixed-seed sample (top-k 40) of `model` (unwrapped) continuing `prompt`, that leaves the training RNG and the
    model's training mode as they were. With a `context_length` (a model that reads a fixed context), the sample stops
    where the context ends. No tokens asked for, no sample: an empty string."""
    if max_new_tokens <= 0:
        return ""
    was_training = model.training
    model.eval()
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    if context_length is not None:
        max_new_tokens = min(max_new_tokens, context_length - inputs["input_ids"].shape[1])
        if max_new_tokens <= 0:
            model.train(was_training)
            return ""
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        output = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=True, top_k=40, pad_token_id=tokenizer.pad_token_id
        )
    model.train(was_training)
    return tokenizer.decode(output[0], skip_special_tokens=True)
