"""The judge's bar: the small CNN classifier reaches 99% on the MNIST test set (slow: about 4 minutes)."""

import json

import pytest

from tests.conftest import run_script


@pytest.mark.slow
def test_cnn_judge_reaches_99_percent(mnist_dir, tmp_path):
    output_dir = tmp_path / "judge"
    result = run_script(
        [
            "scripts/train_mlp.py",
            "--architecture",
            "cnn",
            "--num_train_epochs",
            "6",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(output_dir),
            "--report_to",
            "none",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((output_dir / "all_results.json").read_text())
    print(f"\njudge test accuracy {results['eval_accuracy']:.4f} in {results['train_runtime']:.0f} s of training")
    assert results["eval_accuracy"] >= 0.99
