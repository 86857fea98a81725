"""Image processor that turns any picture of a handwritten digit into MNIST input, the way MNIST itself was made.

MNIST's digits were size-normalized to fit a 20x20 box (keeping their aspect ratio, anti-aliased) and centered by
center of mass in a 28x28 field, white ink on black. A digit drawn on a 400x400 canvas, photographed on paper
(dark ink on a light background) or exported from a drawing app (black strokes on a transparent background) is
brought to that same form here, so that the network sees what it was trained on.

This file travels with the weights (`trust_remote_code=True`): it imports only numpy, PIL, torch and transformers.
"""

import math

import numpy as np
import PIL.Image
import torch
from numpy.lib.stride_tricks import sliding_window_view
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

# MNIST's training-set pixel statistics (ink in [0, 1]); the classic normalization constants.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
# MNIST strokes are about 2.8 px wide in the 20 px digit box (median over the training set); thinner strokes are
# widened to this before downscaling, so a thin pen on a large canvas does not fade to a faint trace.
MNIST_STROKE_WIDTH = 2.8
# Below this, widening is not worth it: MNIST's thinnest 5% of strokes are about 2.1 px wide.
MIN_STROKE_WIDTH = 2.0
# An image whose strongest ink is weaker than this (on a 0-1 scale) has no digit: it gives a blank field.
MIN_CONTRAST = 0.05
# Larger images are first shrunk (fast block averaging) until their longer side is at most this: a digit needs no
# more, and a huge upload then costs milliseconds rather than gigabytes.
MAX_WORKING_SIDE = 1024
# A 3-D array whose last axis is this short is an image with too many channels, not a batch of images so narrow.
MAX_CHANNELS_READ_AS_SUCH = 16


class NoDigitError(ValueError):
    """An image with nothing that stands out from its background: blank, one color, fully transparent, ..."""


class MnistMlpImageProcessor(BaseImageProcessor):
    r"""
    Converts images of handwritten digits into normalized MNIST-style `pixel_values`.

    Each image goes through: grayscale with ink as high values (the background's brightness is read off the image
    border, so dark-on-light and light-on-dark both work; a transparent background is replaced by one that
    contrasts with the strokes), contrast stretch and noise floor, crop to the digit, stroke widening for thin pens,
    resize to fit `digit_box_size` keeping the aspect ratio, centering by center of mass in an
    `image_size x image_size` field, and normalization with `image_mean`/`image_std`.

    Args:
        image_size (`int`, *optional*, defaults to 28):
            Side of the output field.
        digit_box_size (`int`, *optional*, defaults to 20):
            Side of the box the digit is scaled to fit (MNIST: 20).
        do_center (`bool`, *optional*, defaults to `True`):
            Crop, scale and center the digit as MNIST did. With `False` the image is only converted to ink and
            resized to `image_size` (for images that are MNIST-shaped already).
        ink_threshold (`float`, *optional*, defaults to 0.2):
            After contrast stretching, ink weaker than this is background noise: it is zeroed and ignored when
            cropping.
        normalize_stroke_width (`bool`, *optional*, defaults to `True`):
            Widen strokes that would end up thinner than MNIST's after scaling.
        do_normalize (`bool`, *optional*, defaults to `True`):
            Standardize with `image_mean` and `image_std`.
        image_mean (`float`, *optional*, defaults to 0.1307):
            Mean of MNIST's training pixels.
        image_std (`float`, *optional*, defaults to 0.3081):
            Standard deviation of MNIST's training pixels.
        allow_blank (`bool`, *optional*, defaults to `False`):
            What to do with an image that holds no digit (blank, one color, fully transparent): `False` raises a
            `NoDigitError` (a `ValueError`) saying so, rather than have the model answer confidently about nothing;
            `True` passes it on as an empty field.

    Example:

    ```python
    >>> from PIL import Image, ImageDraw
    >>> from hfnets import MnistMlpImageProcessor

    >>> canvas = Image.new("L", (400, 400), color=255)  # a black "1" drawn on white
    >>> ImageDraw.Draw(canvas).line([(250, 60), (230, 330)], fill=0, width=12)
    >>> MnistMlpImageProcessor()(canvas, return_tensors="pt")["pixel_values"].shape
    torch.Size([1, 1, 28, 28])
    ```
    """

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        image_size: int = 28,
        digit_box_size: int = 20,
        do_center: bool = True,
        ink_threshold: float = 0.2,
        normalize_stroke_width: bool = True,
        do_normalize: bool = True,
        image_mean: float = MNIST_MEAN,
        image_std: float = MNIST_STD,
        allow_blank: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer, got {image_size!r}.")
        if not isinstance(digit_box_size, int) or not 1 <= digit_box_size <= image_size:
            raise ValueError(
                f"`digit_box_size` must be an integer in [1, image_size={image_size}], got {digit_box_size!r}."
            )
        if not 0.0 <= ink_threshold < 1.0:
            raise ValueError(f"`ink_threshold` must be in [0, 1), got {ink_threshold!r}.")
        if image_std <= 0:
            raise ValueError(f"`image_std` must be positive, got {image_std!r}.")
        self.image_size = image_size
        self.digit_box_size = digit_box_size
        self.do_center = do_center
        self.ink_threshold = ink_threshold
        self.normalize_stroke_width = normalize_stroke_width
        self.do_normalize = do_normalize
        self.image_mean = float(image_mean)
        self.image_std = float(image_std)
        self.allow_blank = allow_blank

    def preprocess(
        self,
        images,
        return_tensors: str | None = None,
        do_center: bool | None = None,
        do_normalize: bool | None = None,
        allow_blank: bool | None = None,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            images (`PIL.Image.Image`, `np.ndarray`, `torch.Tensor`, or a list of them):
                Any mode (L, RGB, RGBA, LA, P, 1, I, F) and any size (images larger than 1024 pixels a side are
                shrunk first). Arrays and tensors may be `(H, W)`, `(H, W, C)` or `(C, H, W)` with C in 1 (gray),
                2 (gray + alpha, channels last), 3 or 4 (RGBA), as uint8 in [0, 255] or floats in [0, 1]; a 4-D
                array is a batch. A 3-D array whose first and last axes are not channels is a batch of grayscale
                images.
            return_tensors (`str`, *optional*):
                `"pt"` for torch tensors, `"np"` for numpy arrays; lists of arrays otherwise.
            do_center (`bool`, *optional*): overrides `self.do_center` for this call.
            do_normalize (`bool`, *optional*): overrides `self.do_normalize` for this call.
            allow_blank (`bool`, *optional*): overrides `self.allow_blank` for this call.

        Returns:
            [`~transformers.BatchFeature`] with `pixel_values` of shape `(batch_size, 1, image_size, image_size)`.

        Raises:
            `NoDigitError` (a `ValueError`): an image holds no digit, unless `allow_blank`.
        """
        do_center = self.do_center if do_center is None else do_center
        do_normalize = self.do_normalize if do_normalize is None else do_normalize
        allow_blank = self.allow_blank if allow_blank is None else allow_blank
        fields = []
        images = _as_image_list(images)
        for index, image in enumerate(images):
            ink = _to_ink(_shrink(image, MAX_WORKING_SIDE), self.ink_threshold)
            if not allow_blank and not ink.any():
                which = f"image {index}" if len(images) > 1 else "the image"
                raise NoDigitError(
                    f"No digit found in {which}: nothing stands out from its background (it is blank, one color, "
                    "fully transparent or too faint). Draw or photograph a digit with clear contrast."
                )
            if do_center:
                field = self._center_digit(ink)
            else:
                field = _resize(ink, self.image_size, self.image_size)
            if do_normalize:
                field = (field - self.image_mean) / self.image_std
            fields.append(field[None].astype(np.float32))  # (1, image_size, image_size)
        if return_tensors is not None:
            return BatchFeature({"pixel_values": np.stack(fields)}, tensor_type=return_tensors)
        return BatchFeature({"pixel_values": fields})

    def _center_digit(self, ink: np.ndarray) -> np.ndarray:
        """Crop to the digit, widen thin strokes, fit into the digit box and center by center of mass."""
        size, box = self.image_size, self.digit_box_size
        rows, cols = np.nonzero(ink)
        if rows.size == 0:
            return np.zeros((size, size), dtype=np.float32)
        digit = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        scale = box / max(digit.shape)
        if self.normalize_stroke_width:
            digit = _widen_strokes(digit, scale)
            scale = box / max(digit.shape)
        height = max(1, round(digit.shape[0] * scale))
        width = max(1, round(digit.shape[1] * scale))
        digit = _resize(digit, height, width)
        peak = digit.max()
        if peak > 0:
            digit = digit / peak  # MNIST's strokes reach full intensity; anti-aliasing must not dim a thin digit

        # Translate so the center of mass lands on the field's center (MNIST: index (14, 14) in a 28x28 field),
        # keeping the whole digit inside the field.
        ys, xs = np.mgrid[0:height, 0:width]
        mass = digit.sum()
        com_y, com_x = (ys * digit).sum() / mass, (xs * digit).sum() / mass
        top = min(max(round(size / 2 - com_y), 0), size - height)
        left = min(max(round(size / 2 - com_x), 0), size - width)
        field = np.zeros((size, size), dtype=np.float32)
        field[top : top + height, left : left + width] = digit
        return field


def _as_image_list(images) -> list:
    """Split the accepted inputs into a list of single images, with clear errors for everything else."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("`images` is an empty list: pass at least one image.")
        result = []
        for image in images:
            if isinstance(image, (list, tuple)):
                raise TypeError("`images` must be an image or a flat list of images, got a nested list.")
            result.extend(_as_image_list(image))
        return result
    if isinstance(images, PIL.Image.Image):
        return [images]
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
        images = images.float().numpy() if images.dtype == torch.bfloat16 else images.numpy()
    if isinstance(images, np.ndarray):
        if images.dtype == np.bool_:
            images = images.astype(np.uint8) * 255
        if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
            raise TypeError(f"Image arrays must hold integers or floats, got dtype {images.dtype}.")
        if 0 in images.shape:
            raise ValueError(f"Got an empty image array of shape {images.shape}.")
        if images.ndim == 2 or (
            images.ndim == 3 and (images.shape[-1] in (1, 2, 3, 4) or images.shape[0] in (1, 3, 4))
        ):
            return [images]
        if images.ndim == 3 and images.shape[-1] <= MAX_CHANNELS_READ_AS_SUCH:
            raise ValueError(
                f"Cannot read an image array of shape {images.shape}: an image of {images.shape[-1]} channels? "
                "Images have 1 to 4 (gray, gray + alpha, RGB, RGBA); pass narrow grayscale images as a list of "
                "(H, W) arrays."
            )
        if images.ndim == 3:  # (batch, H, W) of grayscale images
            return list(images)
        if images.ndim == 4 and (images.shape[-1] in (1, 2, 3, 4) or images.shape[1] in (1, 3, 4)):
            return list(images)
        raise ValueError(
            f"Cannot read an image array of shape {images.shape}: expected (H, W), (H, W, C) with C in 1-4, "
            "(C, H, W) with C in 1, 3, 4, or a batch of those (4-D)."
        )
    hint = " Open files with PIL.Image.open(path) first." if isinstance(images, (str, bytes)) else ""
    raise TypeError(
        f"`images` must be a PIL.Image.Image, numpy.ndarray or torch.Tensor (or a list of them), "
        f"got {type(images).__name__}.{hint}"
    )


def _to_array(image) -> np.ndarray:
    """One image -> float32 array (H, W, C) in [0, 1], C in 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)."""
    if isinstance(image, PIL.Image.Image):
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            array = _checked_values(np.asarray(image, dtype=np.float32), f'a mode "{image.mode}" image')
            peak = array.max()
            array = array / peak if peak > 1 else array
        elif image.mode in ("L", "LA", "RGB", "RGBA"):
            array = np.asarray(image, dtype=np.float32) / 255.0
        else:  # "1", "CMYK", "YCbCr", ...
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        return array[..., None] if array.ndim == 2 else array

    array = image
    if array.ndim == 2:
        array = array[..., None]
    elif array.shape[-1] not in (1, 2, 3, 4):  # channels first
        array = np.moveaxis(array, 0, -1)
    if array.shape[-1] not in (1, 2, 3, 4) or array.ndim != 3:
        raise ValueError(f"Cannot read an image of shape {image.shape}: expected 1 to 4 channels.")
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ValueError(
                f"Integer pixel values must lie in [0, 255], got values from {array.min()} to {array.max()}: "
                "scale the image to uint8 first."
            )
        return array.astype(np.float32) / 255.0
    array = _checked_values(array.astype(np.float32), "a float image")
    if array.max() > 255.0:
        raise ValueError(
            f"Float pixel values must lie in [0, 1] (or [0, 255]), got values up to {array.max():g}: scale the "
            "image first."
        )
    return array / 255.0 if array.max() > 1.0 else array


def _checked_values(array: np.ndarray, what: str) -> np.ndarray:
    """`array` if its values are finite and not negative (pixel values), else a clear error."""
    if not np.isfinite(array).all():
        raise ValueError(f"The image ({what}) contains NaN or infinite values.")
    if array.min() < 0:
        raise ValueError(
            f"Pixel values must not be negative, got values from {array.min():g} to {array.max():g} in {what}: "
            "scale the image to [0, 1] (floats) or [0, 255] first."
        )
    return array


def _shrink(image, max_side: int):
    """An image whose longer side exceeds `max_side`, reduced by block averaging (cheap, in C for PIL images)."""
    if isinstance(image, PIL.Image.Image):
        factor = math.ceil(max(image.size) / max_side)
        if factor <= 1:
            return image
        if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
            image = image.convert("RGBA" if image.mode == "P" and "transparency" in image.info else "RGB")
        return image.reduce(factor)
    channels_first = image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)
    height, width = image.shape[1:] if channels_first else image.shape[:2]
    factor = math.ceil(max(height, width) / max_side)
    if factor <= 1:
        return image
    array = np.moveaxis(image, 0, -1) if channels_first else image
    height, width = height // factor * factor, width // factor * factor
    if height == 0 or width == 0:  # a very long, thin strip: keep every `factor`-th pixel along its length
        return array[::factor, ::factor]
    array = array[:height, :width].astype(np.float32)
    blocks = array.reshape(height // factor, factor, width // factor, factor, *array.shape[2:])
    reduced = blocks.mean(axis=(1, 3))
    return reduced.astype(np.float32) / 255.0 if np.issubdtype(image.dtype, np.integer) else reduced


def _to_ink(image, ink_threshold: float) -> np.ndarray:
    """One image -> float32 (H, W) ink map in [0, 1]: 1 where the pen was, 0 for background."""
    array = _to_array(image)
    channels = array.shape[-1]
    color = array[..., :3] if channels >= 3 else array[..., :1]
    gray = color @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if channels >= 3 else color[..., 0]
    if channels in (2, 4) and array[..., -1].min() < 1.0:
        # Transparent background: composite onto a background that contrasts with the (opaque) strokes.
        alpha = array[..., -1]
        if alpha.sum() == 0:
            return np.zeros(gray.shape, dtype=np.float32)
        stroke_brightness = (gray * alpha).sum() / alpha.sum()
        background = 1.0 if stroke_brightness < 0.5 else 0.0
        gray = alpha * gray + (1.0 - alpha) * background

    # The border tells the background: light paper means dark ink, and vice versa.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = (background - gray) if background > 0.5 else (gray - background)
    peak = ink.max()
    if peak < MIN_CONTRAST:
        return np.zeros(gray.shape, dtype=np.float32)
    ink = np.clip(ink / peak, 0.0, 1.0)
    ink[ink < ink_threshold] = 0.0
    return ink.astype(np.float32)


def _widen_strokes(digit: np.ndarray, scale: float) -> np.ndarray:
    """Dilate strokes that would be thinner than MNIST's after scaling by `scale`; pads so nothing is cut off."""
    solid = digit > 0.5
    area = solid.sum()
    if area == 0:
        return digit
    inner = solid.copy()
    inner[1:-1, 1:-1] = solid[1:-1, 1:-1] & solid[:-2, 1:-1] & solid[2:, 1:-1] & solid[1:-1, :-2] & solid[1:-1, 2:]
    boundary = max(int((solid & ~inner).sum()), 1)
    width = 2.0 * area / boundary  # a stroke of length L and width w has area w*L and ~2L boundary pixels
    if width * scale >= MIN_STROKE_WIDTH:
        return digit
    radius = math.ceil((MNIST_STROKE_WIDTH / scale - width) / 2)
    # Grayscale dilation with a square window, as two 1-D running maxima. Padding by 2 * radius leaves `radius` of
    # room on each side for the wider strokes after the window's own `radius` is used up.
    window = 2 * radius + 1
    padded = np.pad(digit, 2 * radius)
    rows = sliding_window_view(padded, window, axis=0).max(axis=-1)  # (H + 2r, W + 4r)
    return sliding_window_view(rows, window, axis=1).max(axis=-1)  # (H + 2r, W + 2r)


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize of a float ink map (area averaging when shrinking, as MNIST's normalization did)."""
    if ink.shape == (height, width):
        return ink
    image = PIL.Image.fromarray(ink.astype(np.float32))  # mode "F"
    shrinking = height < ink.shape[0] or width < ink.shape[1]
    resample = PIL.Image.Resampling.BOX if shrinking else PIL.Image.Resampling.BILINEAR
    resized = image.resize((width, height), resample=resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


MnistMlpImageProcessor.register_for_auto_class("AutoImageProcessor")  # saved beside preprocessor_config.json
