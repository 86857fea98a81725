"""A local Hub server for the session, and one small trained model of each family made by the training scripts."""

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_script
from tests.helpers.datasets import make_image_dataset
from tests.hub.local_hub import LocalHub

USER = "alice"
WRITE_TOKEN = "hf_alice_write"
READ_TOKEN = "hf_alice_read"
BOB_TOKEN = "hf_bob_write"
VERSE = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"


@pytest.fixture(scope="session")
def hub():
    with LocalHub(
        tokens={WRITE_TOKEN: (USER, "write"), READ_TOKEN: (USER, "read"), BOB_TOKEN: ("bob", "write")}
    ) as server:
        yield server


def hub_env(hub: LocalHub, tmp_path: Path, token: str | None = WRITE_TOKEN) -> dict:
    """The environment of a fresh process that talks to `hub`, with a cache of its own."""
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
    }
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def hfnets_cli(args: list[str], env: dict):
    """Run the `hfnets` command in a fresh process with `env` added and HF_TOKEN unset unless `env` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "hfnets.cli", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def in_process_hub(hub, monkeypatch, tmp_path):
    """Point this process's huggingface_hub at the local server (HfApi objects made from now on use it)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_saved_token"))
    return hub


@pytest.fixture(scope="session")
def trained_dirs(tmp_path_factory) -> dict[str, Path]:
    """A few steps of each training script on made-up data: real output folders (weights, code, card, samples)."""
    root = tmp_path_factory.mktemp("trained_small")
    digits = make_image_dataset(root / "digits", num_rows=40, num_classes=10)
    (root / "train.txt").write_text(VERSE * 30)
    (root / "validation.txt").write_text(VERSE * 3)
    common = ["--report_to", "none", "--max_train_steps", "2"]
    mnist = ["--dataset_name", str(digits), "--card_dataset_id", "ylecun/mnist"]
    runs = {
        "mlp": ["scripts/train_mlp.py", *mnist, "--per_device_train_batch_size", "16"],
        "gan": [
            "scripts/train_gan.py",
            *mnist,
            "--per_device_train_batch_size",
            "16",
            "--base_channels",
            "8",
            "--latent_dim",
            "8",
        ],
        "ddpm": [
            "scripts/train_ddpm.py",
            *mnist,
            "--per_device_train_batch_size",
            "16",
            "--block_out_channels",
            "16,32",
            "--layers_per_block",
            "1",
            "--num_inference_steps",
            "2",
        ],
        "gpt": [
            "scripts/train_gpt.py",
            "--train_file",
            str(root / "train.txt"),
            "--validation_file",
            str(root / "validation.txt"),
            "--config_overrides",
            "n_layer=1,n_head=2,n_embd=16,n_positions=32,dropout=0.0",
            "--per_device_train_batch_size",
            "4",
            "--sample_length",
            "8",
            "--card_dataset_id",
            "karpathy/tiny_shakespeare",
        ],
    }
    dirs = {}
    for family, args in runs.items():
        dirs[family] = root / family
        result = run_script([*args, "--output_dir", str(dirs[family]), *common])
        assert result.returncode == 0, f"{family}: {result.stderr[-4000:]}"
    return dirs
