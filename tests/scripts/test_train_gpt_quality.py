"""The quality bar with nanoGPT's CPU configuration on Tiny Shakespeare (slow: about 70 s of training)."""

import json

import pytest

from tests.conftest import SHARED_DIR, run_script


@pytest.mark.slow
def test_nanogpt_cpu_configuration_reaches_validation_loss_1_88(tmp_path):
    dataset = SHARED_DIR / "datasets" / "tiny_shakespeare"
    if not (dataset / "README.md").is_file():
        pytest.skip(f"needs the Tiny Shakespeare copy at {dataset}")
    result = run_script(
        [
            "scripts/train_gpt.py",
            "--dataset_name",
            str(dataset),
            "--output_dir",
            str(tmp_path / "gpt"),
            "--config_overrides",
            "n_layer=4,n_head=4,n_embd=128,n_positions=64,dropout=0.0",
            "--block_size",
            "64",
            "--per_device_train_batch_size",
            "12",
            "--max_train_steps",
            "2000",
            "--report_to",
            "none",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "gpt" / "all_results.json").read_text())
    print(f"\nvalidation loss {results['eval_loss']:.4f} in {results['train_runtime']:.0f} s of training")
    assert results["eval_loss"] <= 1.88
