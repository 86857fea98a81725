"""The quality bar, with the default configuration on all of MNIST (slow: about 20 s of training, plus set-up)."""

import json

import numpy as np
import pytest
import torch
from datasets import load_dataset
from transformers import AutoImageProcessor, AutoModelForImageClassification

import hfnets  # noqa: F401  (registers the Auto classes)
from tests.conftest import run_script
from tests.helpers.drawing import draw_digit


@pytest.mark.slow
def test_default_configuration_reaches_98_percent_and_reads_drawings(mnist_dir, tmp_path):
    output_dir = tmp_path / "mnist-mlp"
    result = run_script(["scripts/train_mlp.py", "--dataset_name", str(mnist_dir), "--output_dir", str(output_dir)])
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["eval_accuracy"] >= 0.98

    model = AutoModelForImageClassification.from_pretrained(output_dir).eval()
    processor = AutoImageProcessor.from_pretrained(output_dir)
    test = load_dataset(str(mnist_dir), split="test").with_format("numpy")[:]
    with torch.no_grad():
        inputs = processor(list(test["image"]), return_tensors="pt")
        processed_accuracy = (model(**inputs).logits.argmax(-1).numpy() == test["label"]).mean()
        drawings = [np.asarray(draw_digit(d, width=w)) for d in range(10) for w in (4, 10, 20)]
        predicted = model(**processor(drawings, return_tensors="pt")).logits.argmax(-1).tolist()
    drawn_correct = sum(p == d for p, d in zip(predicted, [d for d in range(10) for _ in range(3)]))
    print(
        f"\ntest accuracy {results['eval_accuracy']:.4f}; through the image processor {processed_accuracy:.4f}; "
        f"drawn digits {drawn_correct}/30; training loop {results['train_runtime']:.1f} s"
    )
    assert processed_accuracy >= 0.975
    assert drawn_correct >= 28
