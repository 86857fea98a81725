"""The DDPM's bars with the default configuration (slow: a judge, the GAN to compare with, then the DDPM's default
training, its judge report and a 250-step DDPM sampling of the same labels: about 95 minutes on 2 CPU cores)."""

import json

import pytest

from tests.conftest import run_script


def evaluate(pipeline_dir, judge_dir, mnist_dir, output, *sampler) -> dict:
    result = run_script(
        [
            "-m",
            "hfnets.cli",
            "evaluate",
            str(pipeline_dir),
            "--judge",
            str(judge_dir),
            "--dataset_name",
            str(mnist_dir),
            "--num_samples",
            "1000",
            "--json",
            str(output),
            *sampler,
        ],
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.mark.slow
def test_default_ddpm_draws_the_requested_digits(mnist_dir, trained_judge_dir, trained_gan_dir, tmp_path):
    output_dir = tmp_path / "ddpm"
    result = run_script(
        [
            "scripts/train_ddpm.py",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(output_dir),
            "--judge_model",
            str(trained_judge_dir),
            "--report_to",
            "none",
        ],
        timeout=2 * 3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((output_dir / "all_results.json").read_text())
    fast = results["evaluation"]  # DPM-Solver, 25 steps, the default guidance
    gan = json.loads((trained_gan_dir / "all_results.json").read_text())["evaluation"]
    ddpm_250 = evaluate(
        output_dir, trained_judge_dir, mnist_dir, tmp_path / "ddpm_250.json", "--scheduler", "ddpm",
        "--num_inference_steps", "250", "--seed", "42",
    )  # fmt: skip
    print(
        f"\nconditional accuracy {fast['conditional_accuracy']:.4f}, Fréchet distance {fast['frechet_distance']:.1f} "
        f"(250 DDPM steps: {ddpm_250['frechet_distance']:.1f}, GAN: {gan['frechet_distance']:.1f}, floor "
        f"{fast['frechet_distance_floor']:.1f}), training {results['train_runtime']:.0f} s"
    )
    assert fast["conditional_accuracy"] >= 0.98
    assert fast["frechet_distance"] < gan["frechet_distance"]
    assert fast["frechet_distance"] <= 1.1 * ddpm_250["frechet_distance"]
    assert results["train_runtime"] <= 90 * 60
