"""Random affine augmentation: off means untouched, on means each image moved a little, reproducibly."""

import pytest
import torch

from hfnets.training.augment import RandomAffine


def blob_batch(n: int = 16) -> torch.Tensor:
    """A bright 6x6 square in the middle of a dark 28x28 field, normalized as MNIST is (background below 0)."""
    images = torch.full((n, 1, 28, 28), -0.42)
    images[:, :, 11:17, 11:17] = 2.8
    return images


def center_of_mass(images: torch.Tensor) -> torch.Tensor:
    weights = (images - images.amin(dim=(2, 3), keepdim=True)).squeeze(1)
    grid = torch.arange(28, dtype=torch.float32)
    total = weights.sum(dim=(1, 2))
    return torch.stack([(weights.sum(2) * grid).sum(1) / total, (weights.sum(1) * grid).sum(1) / total], dim=1)


def test_all_ranges_zero_returns_the_batch_untouched():
    images = blob_batch()
    assert RandomAffine() is not None and not RandomAffine().enabled
    assert RandomAffine()(images) is images


def test_shifts_move_each_image_within_the_range_and_keep_the_background():
    torch.manual_seed(0)
    images = blob_batch(64)
    shifted = RandomAffine(translate=0.1)(images)
    moved = center_of_mass(shifted) - center_of_mass(images)
    assert shifted.shape == images.shape
    assert moved.abs().max() <= 0.1 * 28 + 0.5  # at most a tenth of the side
    assert moved.abs().mean() > 0.5  # and they do move
    assert len({tuple(m.round().tolist()) for m in moved}) > 5  # each image by its own amount
    # pixels brought in from outside repeat the border: the background value, not zeros
    assert torch.isclose(shifted[:, :, 0, 0], torch.tensor(-0.42)).all()


def test_rotation_and_scaling_keep_the_ink_near_the_center():
    torch.manual_seed(0)
    images = blob_batch()
    warped = RandomAffine(degrees=15, scale=0.1)(images)
    assert (center_of_mass(warped) - 13.5).abs().max() < 0.5  # rotating and scaling about the center
    ink = (warped > 1.0).sum(dim=(1, 2, 3)).float()
    assert ((ink > 20) & (ink < 60)).all()  # a 36-pixel square, rotated and scaled by at most 10%


def test_the_same_seed_draws_the_same_distortions():
    augment = RandomAffine(degrees=10, translate=0.1, scale=0.1)
    torch.manual_seed(3)
    first = augment(blob_batch())
    torch.manual_seed(3)
    assert torch.equal(augment(blob_batch()), first)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"degrees": -1}, "rotation"), ({"translate": 1.0}, "shift"), ({"scale": 1.5}, "scaling")],
)
def test_impossible_ranges_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandomAffine(**kwargs)
