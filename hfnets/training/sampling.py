"""Sample grids: generated images laid out as one picture, for logs, model cards and eyes."""

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
