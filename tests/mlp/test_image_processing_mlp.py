import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor

from hfnets import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor
from hfnets.mlp import NoDigitError
from tests.helpers.drawing import draw_digit

PROCESSOR = MnistMlpImageProcessor()


def ink_of(pixel_values: torch.Tensor) -> np.ndarray:
    """Undo the normalization: (1, 1, 28, 28) -> (28, 28) ink in [0, 1]."""
    return (pixel_values[0, 0] * PROCESSOR.image_std + PROCESSOR.image_mean).numpy()


def center_of_mass(ink: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
    return (ys * ink).sum() / ink.sum(), (xs * ink).sum() / ink.sum()


def bounding_box(ink: np.ndarray, level: float = 0.3) -> tuple[int, int]:
    rows, cols = np.nonzero(ink > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_rgba_black_on_transparent_off_center_digit_becomes_centered_mnist_input():
    drawing = draw_digit(7, width=8, offset=(120, -100), scale=0.6)  # top-right corner of a 400x400 canvas
    assert drawing.mode == "RGBA" and drawing.size == (400, 400)
    pixel_values = PROCESSOR(drawing, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 1, 28, 28) and pixel_values.dtype == torch.float32
    ink = ink_of(pixel_values)
    com_y, com_x = center_of_mass(ink)
    assert abs(com_y - 14) <= 1 and abs(com_x - 14) <= 1
    assert max(bounding_box(ink)) in (19, 20, 21)  # fits MNIST's 20x20 box
    assert ink.max() == pytest.approx(1.0, abs=1e-5)  # white ink on black, full intensity
    assert ink[0].max() == 0 and ink[:, 0].max() == 0  # a clean margin


def test_dark_on_light_and_light_on_dark_give_the_same_input():
    dark_on_light = draw_digit(3, mode="L")
    light_on_dark = Image.fromarray(255 - np.asarray(dark_on_light))
    a = PROCESSOR(dark_on_light, return_tensors="pt")["pixel_values"]
    b = PROCESSOR(light_on_dark, return_tensors="pt")["pixel_values"]
    assert torch.allclose(a, b, atol=1e-5)


def test_thin_strokes_are_widened_like_mnist_strokes():
    thin = ink_of(PROCESSOR(draw_digit(1, width=3), return_tensors="pt")["pixel_values"])
    thick = ink_of(PROCESSOR(draw_digit(1, width=24), return_tensors="pt")["pixel_values"])
    assert (thin > 0.5).sum() >= 0.6 * (thick > 0.5).sum()


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im,  # PIL RGBA
        lambda im: np.asarray(im),  # numpy (H, W, 4) uint8
        lambda im: torch.from_numpy(np.array(im)).permute(2, 0, 1),  # tensor (4, H, W)
        lambda im: torch.from_numpy(np.array(im)).float() / 255,  # float tensor (H, W, 4) in [0, 1]
        lambda im: Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB"),  # RGB on white
        lambda im: np.asarray(Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("L")),
    ],
    ids=["pil-rgba", "numpy-hwc", "tensor-chw", "tensor-float", "pil-rgb-on-white", "numpy-gray-on-white"],
)
def test_every_input_type_gives_the_same_result(convert):
    expected = PROCESSOR(draw_digit(4), return_tensors="pt")["pixel_values"]
    assert torch.allclose(PROCESSOR(convert(draw_digit(4)), return_tensors="pt")["pixel_values"], expected, atol=1e-4)


def test_batches_lists_and_return_types():
    images = [draw_digit(d) for d in range(5)]
    assert PROCESSOR(images, return_tensors="pt")["pixel_values"].shape == (5, 1, 28, 28)
    assert isinstance(PROCESSOR(images, return_tensors="np")["pixel_values"], np.ndarray)
    gray = np.stack([np.asarray(im)[..., 3] for im in images])  # (5, 400, 400): a batch of grayscale images
    assert PROCESSOR(gray, return_tensors="pt")["pixel_values"].shape == (5, 1, 28, 28)
    assert PROCESSOR(gray[:3], return_tensors="pt")["pixel_values"].shape == (1, 1, 28, 28)  # (3, H, W) is RGB
    assert PROCESSOR(np.stack([np.asarray(im) for im in images]), return_tensors="pt")["pixel_values"].shape == (
        5,
        1,
        28,
        28,
    )
    unbatched = PROCESSOR(images)["pixel_values"]
    assert isinstance(unbatched, list) and unbatched[0].shape == (1, 28, 28)


def test_mnist_images_keep_their_form(mnist_test_arrays):
    images, _ = mnist_test_arrays
    processed = PROCESSOR(list(images[:200]), return_tensors="np", do_normalize=False)["pixel_values"][:, 0]
    original = images[:200].astype(np.float32) / 255
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(processed, original)]
    assert np.median(correlation) > 0.9


BLANK_IMAGES = {
    "white": Image.new("L", (400, 400), "white"),
    "black": Image.new("RGB", (400, 400), "black"),
    "gray": np.full((64, 64, 3), 128, dtype=np.uint8),
    "1x1": Image.new("L", (1, 1), 0),
    "transparent": Image.new("RGBA", (50, 50), (0, 0, 0, 0)),
    "5000x1": Image.new("L", (5000, 1), 255),
    "faint": np.full((28, 28), 0.5, dtype=np.float32) + np.eye(28, dtype=np.float32) * 0.02,
}


@pytest.mark.parametrize("name", BLANK_IMAGES)
def test_an_image_without_a_digit_is_refused_rather_than_classified(name):
    with pytest.raises(NoDigitError, match="No digit found in the image: nothing stands out from its background"):
        PROCESSOR(BLANK_IMAGES[name], return_tensors="pt")
    # Asked for, a blank image is an empty field (for batch jobs that want every image through).
    pixel_values = PROCESSOR(BLANK_IMAGES[name], return_tensors="pt", allow_blank=True)["pixel_values"]
    assert pixel_values.shape == (1, 1, 28, 28) and np.allclose(ink_of(pixel_values), 0.0, atol=1e-6)


def test_the_blank_image_in_a_batch_is_named():
    with pytest.raises(NoDigitError, match="No digit found in image 1"):
        PROCESSOR([draw_digit(3), BLANK_IMAGES["white"]])
    assert (
        MnistMlpImageProcessor(allow_blank=True)([draw_digit(3), BLANK_IMAGES["white"]])["pixel_values"][1].max() < 0
    )


def test_gray_and_alpha_arrays_are_one_image():
    drawing = np.asarray(draw_digit(4).convert("LA"))  # (400, 400, 2): ink on a transparent background
    assert drawing.shape == (400, 400, 2)
    expected = PROCESSOR(draw_digit(4).convert("LA"), return_tensors="pt")["pixel_values"]
    actual = PROCESSOR(drawing, return_tensors="pt")["pixel_values"]
    assert actual.shape == (1, 1, 28, 28)
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("kind", ["pil", "array"])
def test_a_huge_image_is_shrunk_first_and_reads_as_the_same_digit(kind):
    drawing = draw_digit(2, width=30)
    small = Image.alpha_composite(Image.new("RGBA", drawing.size, "white"), drawing).convert("L")
    small = small.resize((1000, 1000), Image.Resampling.NEAREST)
    huge = small.resize((8000, 8000), Image.Resampling.NEAREST)
    expected = ink_of(PROCESSOR(small, return_tensors="pt")["pixel_values"])
    actual = ink_of(PROCESSOR(huge if kind == "pil" else np.asarray(huge), return_tensors="pt")["pixel_values"])
    assert np.abs(actual - expected).mean() < 0.02


def test_do_center_false_only_resizes():
    image = np.zeros((56, 56), dtype=np.uint8)
    image[:8, :8] = 255  # a corner blob stays in the corner
    ink = ink_of(PROCESSOR(image, do_center=False, return_tensors="pt")["pixel_values"])
    assert ink[:4, :4].min() > 0.9 and ink[10:].max() == 0


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        ("digit.png", TypeError, "Open files with PIL.Image.open"),
        (12, TypeError, "must be a PIL.Image.Image, numpy.ndarray or torch.Tensor"),
        ([], ValueError, "empty list"),
        (np.zeros((2, 3, 28, 28, 1)), ValueError, "Cannot read an image array of shape"),
        (np.zeros((0, 28)), ValueError, "empty image array"),
        (np.array([["a", "b"]]), TypeError, "must hold integers or floats"),
        (np.full((28, 28), np.nan), ValueError, "NaN"),
        ([[np.zeros((28, 28))]], TypeError, "nested list"),
        (np.random.default_rng(0).random((28, 28, 5)), ValueError, "an image of 5 channels"),
        (np.random.default_rng(0).random((28, 28)) - 0.5, ValueError, "must not be negative"),
        (np.full((28, 28), -1, dtype=np.int64), ValueError, "Integer pixel values must lie in \\[0, 255\\]"),
        (np.full((28, 28), 1000.0), ValueError, "Float pixel values must lie in \\[0, 1\\]"),
        (Image.fromarray(np.full((28, 28), np.nan, dtype=np.float32), mode="F"), ValueError, "NaN"),
        (Image.fromarray(np.full((28, 28), -0.5, dtype=np.float32), mode="F"), ValueError, "must not be negative"),
    ],
)
def test_bad_images_are_clear_errors(images, error, message):
    with pytest.raises(error, match=message):
        PROCESSOR(images)


def test_save_load_and_auto_class(tmp_path):
    processor = MnistMlpImageProcessor(ink_threshold=0.3, digit_box_size=18)
    processor.save_pretrained(tmp_path)
    MnistMlpConfig().save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, MnistMlpImageProcessor)
    assert loaded.ink_threshold == 0.3 and loaded.digit_box_size == 18


def test_invalid_processor_settings_are_rejected():
    with pytest.raises(ValueError, match="`digit_box_size` must be an integer in"):
        MnistMlpImageProcessor(digit_box_size=40)
    with pytest.raises(ValueError, match="`ink_threshold` must be in"):
        MnistMlpImageProcessor(ink_threshold=1.5)


def test_processor_output_feeds_the_model():
    model = MnistMlpForImageClassification(MnistMlpConfig()).eval()
    inputs = PROCESSOR([draw_digit(d) for d in range(10)], return_tensors="pt")
    assert model(**inputs).logits.shape == (10, 10)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_still_classified(tmp_path):
    from hfnets.mlp.pipeline_mlp import open_image

    photo = Image.new("L", (4000, 3000), 235)
    photo.paste(0, (1900, 1000, 2100, 2000))  # a thick "1"
    photo.save(tmp_path / "photo.jpg", quality=90)
    image = open_image(str(tmp_path / "photo.jpg"))
    assert image.size == (2000, 1500)  # JPEG draft mode: a quarter of the pixels decoded, never below 1024 a side
    assert MnistMlpImageProcessor()(image, return_tensors="pt")["pixel_values"].shape == (1, 1, 28, 28)
