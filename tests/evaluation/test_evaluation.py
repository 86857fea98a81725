"""The shared evaluation on known inputs, with the shipped MLP as the judge."""

import math

import pytest
import torch

from hfnets.evaluation import JudgeFeatures, class_coverage, conditional_accuracy, frechet_distance


@pytest.fixture(scope="module")
def judge(shipped_mlp_dir) -> JudgeFeatures:
    return JudgeFeatures.from_pretrained(str(shipped_mlp_dir))


@pytest.fixture(scope="module")
def real(mnist_test_arrays) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = mnist_test_arrays
    return torch.from_numpy(images).float().div(255)[:, None], torch.from_numpy(labels)


def test_judge_features(judge, real):
    images, _ = real
    assert judge.num_features == 128
    assert judge(images[:5]).shape == (5, 128)
    with pytest.raises(ValueError, match=r"The judge takes images of shape \(batch, 1, 28, 28\)"):
        judge(torch.zeros(2, 3, 32, 32))


def test_identical_sets_are_at_distance_zero_and_noise_is_far(judge, real):
    images, _ = real
    first, second = images[:1000], images[1000:2000]
    assert frechet_distance(first, first, judge) == pytest.approx(0.0, abs=1e-3)
    floor = frechet_distance(first, second, judge)  # two samples of the same distribution
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert floor < 0.1 * frechet_distance(first, noise, judge)


def test_real_digits_are_judged_as_their_labels(judge, real):
    images, labels = real
    assert conditional_accuracy(images, labels, judge) > 0.95
    assert conditional_accuracy(images, (labels + 1) % 10, judge) < 0.05


def test_class_coverage_shows_mode_collapse(judge, real):
    images, labels = real
    balanced = class_coverage(images, judge, num_classes=10)
    assert sum(balanced["histogram"]) == len(images)
    assert balanced["entropy_bits"] > 0.95 * math.log2(10)
    collapsed = class_coverage(images[labels == 1], judge, num_classes=10)
    assert collapsed["entropy_bits"] < 0.5


def test_bad_inputs_are_clear_errors(judge, real):
    images, labels = real
    with pytest.raises(ValueError, match="must hold values in \\[0, 1\\]"):
        frechet_distance(images[:10] * 2 - 1, images[:10], judge)
    with pytest.raises(ValueError, match="must be a batch"):
        frechet_distance(images[0], images[:10], judge)
    with pytest.raises(ValueError, match="Got 10 images but 9 requested labels"):
        conditional_accuracy(images[:10], labels[:9], judge)
