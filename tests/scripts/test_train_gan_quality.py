"""The GAN's bars with the default configuration (slow: a judge, then 20 epochs of GAN training, about 13 minutes)."""

import json

import pytest

from tests.conftest import run_script


@pytest.mark.slow
def test_default_gan_draws_the_requested_digits(mnist_dir, tmp_path):
    judge = run_script(
        [
            "scripts/train_mlp.py",
            "--architecture",
            "cnn",
            "--num_train_epochs",
            "6",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(tmp_path / "judge"),
            "--report_to",
            "none",
        ]
    )
    assert judge.returncode == 0, judge.stderr[-3000:]
    gan = run_script(
        [
            "scripts/train_gan.py",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(tmp_path / "gan"),
            "--judge_model",
            str(tmp_path / "judge"),
            "--report_to",
            "none",
        ],
        timeout=1800,
    )
    assert gan.returncode == 0, gan.stderr[-3000:]
    results = json.loads((tmp_path / "gan" / "all_results.json").read_text())
    report = results["evaluation"]
    print(
        f"\nconditional accuracy {report['conditional_accuracy']:.4f}, "
        f"Fréchet distance {report['frechet_distance']:.1f} (floor {report['frechet_distance_floor']:.1f}), "
        f"training {results['train_runtime']:.0f} s"
    )
    assert report["conditional_accuracy"] >= 0.95
    assert results["train_runtime"] <= 20 * 60
