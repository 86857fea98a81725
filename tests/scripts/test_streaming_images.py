"""--streaming in the CNN, GAN and DDPM scripts (the MLP's exact resume is in test_train_mlp.py): each trains from a
dataset read as training goes, resumes from the position its checkpoint saved, and says plainly what it cannot do."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import run_in_process
from tests.helpers.datasets import make_image_dataset
from tests.helpers.interrupt import interrupt_in_process

FAMILIES = {
    "cnn": ("train_cnn.py", ["--image_size", "16", "--conv_channels", "8"], "model.safetensors"),
    "gan": (
        "train_gan.py",
        ["--base_channels", "8", "--latent_dim", "8", "--resolution", "28"],
        "generator/diffusion_pytorch_model.safetensors",
    ),
    "ddpm": (
        "train_ddpm.py",
        ["--block_out_channels", "16,32", "--layers_per_block", "1", "--num_inference_steps", "2"],
        "unet/diffusion_pytorch_model.safetensors",
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_streamed_image_dataset_trains_and_resumes_where_it_stopped(family, tmp_path):
    script, shape, weights = FAMILIES[family]
    mode = "RGB" if family == "cnn" else "L"
    dataset = make_image_dataset(tmp_path / "images", num_rows=48, num_classes=4, mode=mode)

    def args(output_dir, *extra):
        return [
            *("--dataset_name", str(dataset), "--streaming", "--max_train_steps", "6", "--checkpointing_steps", "2"),
            *("--per_device_train_batch_size", "8", "--output_dir", str(output_dir), "--report_to", "none"),
            *("--mixed_precision", "no", *shape, *extra),
        ]

    run_in_process(script, args(tmp_path / "reference"))
    results = json.loads((tmp_path / "reference" / "all_results.json").read_text())
    assert results["step"] == 6
    interrupt_in_process(script, args(tmp_path / "resumed"), 4)
    run_in_process(script, args(tmp_path / "resumed", "--resume_from_checkpoint", "latest"))
    expected = load_file(tmp_path / "reference" / weights)
    actual = load_file(tmp_path / "resumed" / weights)
    assert all(torch.equal(expected[name], actual[name]) for name in expected), family
    # resumed from its last checkpoint, a finished run trains no further step
    run_in_process(script, args(tmp_path / "resumed", "--resume_from_checkpoint", "latest"))
    assert json.loads((tmp_path / "resumed" / "all_results.json").read_text())["step"] == 6
    actual = load_file(tmp_path / "resumed" / weights)
    assert all(torch.equal(expected[name], actual[name]) for name in expected), family


def test_streaming_needs_class_names_and_a_dataset(tmp_path):
    unnamed = make_image_dataset(tmp_path / "unnamed", num_rows=16, class_label=False)
    base = ["--streaming", "--max_train_steps", "2", "--output_dir", str(tmp_path / "out"), "--report_to", "none"]
    with pytest.raises(ValueError, match="--streaming reads the labels as training goes"):
        run_in_process("train_mlp.py", ["--dataset_name", str(unnamed), *base])
    with pytest.raises(ValueError, match="an image folder is read from disk"):
        run_in_process("train_cnn.py", ["--train_dir", str(tmp_path), *base])
