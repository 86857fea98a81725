"""What visitors send, checked: numbers from sliders or API callers, and drawn digits.

The demos' events that take numbers, choices and text skip Gradio's preprocessing (`preprocess=False`): their
handlers check every value themselves, so an API caller who sends a string where a number goes is told what to send,
where the sliders' own checks would fail on it without a message."""

import gradio as gr
import numpy as np
import torch
from torch.nn import functional as F
from transformers import AutoImageProcessor

MAX_SEED = 2**31 - 1


def bounded(value, low: float, high: float, message: str, whole: bool = True):
    """`value` as a number in [low, high] (a whole number where `whole`); anything else is a gr.Error with `message`
    (API callers can send strings, NaN, infinities or lists where the sliders send numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(message) from None
    if isinstance(value, bool) or not low <= number <= high or (whole and not number.is_integer()):
        raise gr.Error(message)
    return int(number) if whole else number


def parse_seed(seed) -> int:
    return bounded(seed, 0, MAX_SEED, f"The seed must be a whole number from 0 to {MAX_SEED}.")


def is_blank(image: np.ndarray) -> bool:
    """Nothing drawn: every pixel alike (a fresh canvas, transparent or white)."""
    flat = image.reshape(-1, image.shape[-1]) if image.ndim == 3 else image.reshape(-1, 1)
    return bool((flat == flat[0]).all())


def load_processor(classifier_id: str | None):
    """The image processor of an hfnets MNIST classifier (it crops, scales and centres a drawing as MNIST's digits
    are), or None where there is none to load."""
    return AutoImageProcessor.from_pretrained(classifier_id, trust_remote_code=True) if classifier_id else None


def drawn_digit(processor, sketch: dict | None, image_size: int) -> torch.Tensor:
    """A sketchpad's drawing as an MNIST-style digit, (1, 1, image_size, image_size) in [0, 1] with the ink at 1."""
    composite = None if sketch is None else sketch.get("composite")
    image = None if composite is None else np.asarray(composite)
    if image is None or image.size == 0 or is_blank(image):
        raise gr.Error("Draw a digit first.")
    if processor is None:
        raise gr.Error("No image processor to read drawings with: set MLP_MODEL_ID to an hfnets MNIST classifier.")
    try:
        pixels = processor(image, do_normalize=False, return_tensors="pt")["pixel_values"].float()
    except ValueError as error:  # no digit in it: say so rather than guess
        raise gr.Error(str(error)) from None
    if pixels.shape[-1] != image_size:
        pixels = F.interpolate(pixels, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return pixels.clamp(0, 1)
