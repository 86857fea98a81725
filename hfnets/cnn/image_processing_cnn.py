"""Image processor of the convolutional classifier: any picture in, a normalized square of the model's size out.

Each image is converted to the model's channels (grayscale or RGB; transparency over white), resized to an
`image_size` square (the whole picture, stretched where it is not square, as ViT's processor does: nothing at its
edges is cropped away), scaled to [0, 1] and normalized with per-channel `image_mean`/`image_std` (the training
images' own statistics, measured by the training script).

This file travels with the weights (`trust_remote_code=True`): it imports only numpy, PIL, torch and transformers.
"""

import numpy as np
import PIL.Image
import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

# Pictures larger than this (in pixels) are refused before their pixels are decoded: a classifier of small squares
# needs nothing near it, and decoding one costs hundreds of megabytes.
MAX_IMAGE_PIXELS = 50_000_000


class CnnImageProcessor(BaseImageProcessor):
    r"""
    Converts images into the `pixel_values` of a [`CnnForImageClassification`].

    Args:
        image_size (`int`, *optional*, defaults to 28): side of the square the model reads.
        num_channels (`int`, *optional*, defaults to 1): 1 (grayscale) or 3 (RGB).
        image_mean (`list[float]`, *optional*): per-channel mean of [0, 1] pixels (default 0.5 each).
        image_std (`list[float]`, *optional*): per-channel standard deviation (default 0.5 each).
    """

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        image_size: int = 28,
        num_channels: int = 1,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_channels not in (1, 3):
            raise ValueError(f"`num_channels` must be 1 (grayscale) or 3 (RGB), got {num_channels!r}.")
        if not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer, got {image_size!r}.")
        self.image_size = image_size
        self.num_channels = num_channels
        self.image_mean = [0.5] * num_channels if image_mean is None else [float(m) for m in image_mean]
        self.image_std = [0.5] * num_channels if image_std is None else [float(s) for s in image_std]
        if len(self.image_mean) != num_channels or len(self.image_std) != num_channels:
            raise ValueError(f"`image_mean` and `image_std` need one value per channel ({num_channels}).")
        if any(s <= 0 for s in self.image_std):
            raise ValueError(f"`image_std` must be positive, got {self.image_std}.")

    def to_square(self, image) -> np.ndarray:
        """One image (PIL, or an HxW / HxWxC uint8 or [0, 1] float array) as a float32 (C, S, S) array in [0, 1]."""
        if isinstance(image, torch.Tensor):
            image = image.numpy()
        if isinstance(image, np.ndarray):
            array = image
            if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
                array = array.transpose(1, 2, 0)  # channels first -> last
            if array.ndim == 3 and array.shape[-1] == 1:
                array = array[..., 0]
            if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
                raise ValueError(
                    f"An image array must be (height, width) or (height, width, 3 or 4 channels), got shape "
                    f"{tuple(image.shape)}."
                )
            if array.dtype != np.uint8:
                array = (np.clip(array.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
            image = PIL.Image.fromarray(array)
        if not isinstance(image, PIL.Image.Image):
            raise ValueError(f"Expected a PIL image, a numpy array or a tensor, got {type(image).__name__}.")
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ValueError(
                f"The image is {image.width}x{image.height} pixels, more than {MAX_IMAGE_PIXELS:,}: shrink it first."
            )
        if image.mode in ("RGBA", "LA", "P", "PA"):  # transparency over white
            rgba = image.convert("RGBA")
            background = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = PIL.Image.alpha_composite(background, rgba)
        image = image.convert("L" if self.num_channels == 1 else "RGB")
        side = self.image_size
        image = image.resize((side, side), PIL.Image.Resampling.BILINEAR, reducing_gap=3.0)
        array = np.asarray(image, dtype=np.float32) / 255.0
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        if not isinstance(images, (list, tuple)):
            images = [images]
        if not images:
            raise ValueError("No images given.")
        pixels = np.stack([self.to_square(image) for image in images])
        mean = np.asarray(self.image_mean, dtype=np.float32)[None, :, None, None]
        std = np.asarray(self.image_std, dtype=np.float32)[None, :, None, None]
        pixels = (pixels - mean) / std
        return BatchFeature({"pixel_values": pixels}, tensor_type=return_tensors)


CnnImageProcessor.register_for_auto_class("AutoImageProcessor")
