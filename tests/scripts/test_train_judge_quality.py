"""The judge's bar: the small CNN classifier reaches 99% on the MNIST test set (slow: about 5 minutes)."""

import json

import pytest


@pytest.mark.slow
def test_cnn_judge_reaches_99_percent(trained_judge_dir):
    results = json.loads((trained_judge_dir / "all_results.json").read_text())
    print(f"\njudge test accuracy {results['eval_accuracy']:.4f} in {results['train_runtime']:.0f} s of training")
    assert results["eval_accuracy"] >= 0.99
