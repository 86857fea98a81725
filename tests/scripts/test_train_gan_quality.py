"""The GAN's bars with the default configuration (slow: a judge, then 20 epochs of GAN training, about 13 minutes)."""

import json

import pytest


@pytest.mark.slow
def test_default_gan_draws_the_requested_digits(trained_gan_dir):
    results = json.loads((trained_gan_dir / "all_results.json").read_text())
    report = results["evaluation"]
    print(
        f"\nconditional accuracy {report['conditional_accuracy']:.4f}, "
        f"Fréchet distance {report['frechet_distance']:.1f} (floor {report['frechet_distance_floor']:.1f}), "
        f"training {results['train_runtime']:.0f} s"
    )
    assert report["conditional_accuracy"] >= 0.95
    assert results["train_runtime"] <= 20 * 60
