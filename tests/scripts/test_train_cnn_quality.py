"""The CNN's quality bar on photos it has never seen: its defaults on a two-class set of mixed-size RGB JPEGs
(slow: about 10 minutes on 2 CPU cores)."""

import pytest

from tests.conftest import run_in_process
from tests.helpers.datasets import make_shape_folders


@pytest.mark.slow
def test_defaults_reach_92_percent_on_an_unseen_folder_of_mixed_size_jpegs(tmp_path):
    photos = make_shape_folders(
        tmp_path / "photos", per_class=1000, validation_per_class=250, sizes=(48, 160), seed=2026
    )
    results = run_in_process(
        "scripts/train_cnn.py",
        [
            *("--train_dir", str(photos / "train"), "--validation_dir", str(photos / "validation")),
            *("--output_dir", str(tmp_path / "cnn"), "--report_to", "none"),
        ],
    )
    print(f"\nvalidation accuracy {results['eval_accuracy']:.4f} in {results['train_runtime']:.0f} s of training")
    assert results["eval_samples"] == 500 and results["eval_accuracy"] >= 0.92
