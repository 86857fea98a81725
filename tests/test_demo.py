"""`hfnets demo` finds a model for every demo: the one given, the published one, a cached one, or one it trains."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def hfnets(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hfnets.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def test_given_folders_are_served_as_they_are(trained_dirs):
    given = [f"--{family}={folder}" for family, folder in trained_dirs.items()]
    result = hfnets("demo", *given, "--no_launch", "--no_train")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [w for family, folder in trained_dirs.items() for w in (family, str(folder))]


def test_a_model_that_cannot_be_downloaded_is_trained_once_then_cached(trained_dirs, tmp_path):
    # Offline (the tests never reach the Hub), the published MLP cannot be downloaded.
    others = [f"--{family}={trained_dirs[family]}" for family in ("gan", "ddpm", "gpt")]
    digits = trained_dirs["mlp"].parent / "digits"
    common = ["demo", *others, "--cache_dir", str(tmp_path), "--dataset_name", str(digits), "--no_launch"]

    refused = hfnets(*common, "--no_train")
    assert refused.returncode == 1 and "hfnets/mnist-mlp cannot be downloaded" in refused.stderr

    trained = hfnets(*common)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"mlp   {tmp_path / 'mlp'}" in trained.stdout and (tmp_path / "mlp" / "model.safetensors").is_file()
    assert "training a small mlp model" in trained.stderr

    cached = hfnets(*common, "--no_train")
    assert cached.returncode == 0 and "trained earlier" in cached.stderr
