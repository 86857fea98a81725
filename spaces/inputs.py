"""What visitors send, checked: numbers from sliders or API callers, and drawn digits.

The demos' events that take numbers, choices and text skip Gradio's preprocessing (`preprocess=False`): their
handlers check every value themselves, so an API caller who sends a string where a number goes is told what to send,
where the sliders' own checks would fail on it without a message."""

import gradio as gr
import numpy as np
import torch
from gradio.context import Context
from torch.nn import functional as F
from transformers import AutoImageProcessor

MAX_SEED = 2**31 - 1


class Refused(gr.Error):
    """An input a demo cannot take, said to the visitor in the page; the server's log stays free of its traceback
    (it is no fault of the app's)."""

    def __init__(self, message: str):
        super().__init__(message, print_exception=False)


def bounded(value, low: float, high: float, message: str, whole: bool = True):
    """`value` as a number in [low, high] (a whole number where `whole`); anything else is a gr.Error with `message`
    (API callers can send strings, NaN, infinities or lists where the sliders send numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Refused(message) from None
    if isinstance(value, bool) or not low <= number <= high or (whole and not number.is_integer()):
        raise Refused(message)
    return int(number) if whole else number


# Gradio's Sketchpad opens with no tool chosen ("select the draw tool to start"): a drag on it selects that hint
# instead of drawing. This page script chooses the brush for the visitor whenever the hint shows (on load, on a tab
# opened later, after the canvas is cleared); a tool the visitor picked (pan, eraser) hides the hint and is kept.
BRUSH_READY = """() => {
    const choose = () => {
        for (const pad of document.querySelectorAll(".hfnets-pad")) {
            const hint = [...pad.querySelectorAll("div, span, p")].find(
                (node) => node.childElementCount === 0 && /select the draw tool/i.test(node.textContent)
            );
            const brush = pad.querySelector('button[aria-label="Brush"]');
            if (hint && brush && hint.offsetParent !== null) brush.click();
        }
    };
    if (!window.hfnetsBrushReady) window.hfnetsBrushReady = setInterval(choose, 150);
}"""


def digit_pad(elem_id: str, size: int, label: str = "Draw a digit") -> gr.Sketchpad:
    """A square Sketchpad of `size` pixels for drawing a digit, ready to draw on with the mouse at once."""
    pad = gr.Sketchpad(
        label=label,
        type="numpy",
        image_mode="RGBA",
        canvas_size=(size, size),
        elem_id=elem_id,
        elem_classes=["hfnets-pad"],
    )
    Context.root_block.load(None, None, None, js=BRUSH_READY)
    return pad


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
        raise Refused("Draw a digit first.")
    if processor is None:
        raise Refused("No image processor to read drawings with: set MLP_MODEL_ID to an hfnets MNIST classifier.")
    try:
        pixels = processor(image, do_normalize=False, return_tensors="pt")["pixel_values"].float()
    except ValueError as error:  # no digit in it: say so rather than guess
        raise Refused(str(error)) from None
    if pixels.shape[-1] != image_size:
        pixels = F.interpolate(pixels, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return pixels.clamp(0, 1)
