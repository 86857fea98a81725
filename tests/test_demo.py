"""`hfnets demo` shows, per family: the model given, else the shipped one, else one it trained earlier; it trains
only when asked (`--train_missing`)."""

import subprocess
import sys
from pathlib import Path

import pytest

from hfnets import demo
from hfnets.resources import PRETRAINED_MODELS, available_pretrained
from tests.conftest import REPO_ROOT


def hfnets(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hfnets.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def served(stdout: str) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in stdout.strip().splitlines())


def test_given_folders_are_served_as_they_are(trained_dirs):
    given = [f"--{family}={folder}" for family, folder in trained_dirs.items()]
    result = hfnets("demo", *given, "--no_launch")
    assert result.returncode == 0, result.stderr[-3000:]
    assert served(result.stdout) == {family: str(folder) for family, folder in trained_dirs.items()}


def test_with_no_arguments_the_shipped_models_are_served(tmp_path):
    result = hfnets("demo", "--no_launch", "--cache_dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    shown = served(result.stdout)
    shipped = set(available_pretrained())
    for family, spec in demo.FAMILIES.items():
        if spec.shipped in shipped:
            assert Path(shown[family]) == REPO_ROOT / "pretrained" / spec.shipped
        else:  # nothing is trained unless asked
            assert "--train_missing" in shown[family]
    assert not any(tmp_path.iterdir())


def test_a_folder_without_a_model_is_refused(tmp_path):
    result = hfnets("demo", "--mlp", str(tmp_path), "--no_launch")
    assert result.returncode == 1 and "holds no saved model" in result.stderr


@pytest.fixture
def nothing_shipped(monkeypatch):
    def missing(name):
        raise FileNotFoundError(name)

    monkeypatch.setattr(demo, "pretrained_path", missing)


def test_a_missing_model_is_trained_only_when_asked_then_cached(nothing_shipped, trained_dirs, tmp_path, capfd):
    digits = str(trained_dirs["mlp"].parent / "digits")
    data = {"images": digits, "text": ""}
    assert demo.resolve_model("mlp", None, tmp_path, train=False, data=data) is None

    trained = demo.resolve_model("mlp", None, tmp_path, train=True, data=data)
    assert trained == str(tmp_path / "mlp") and (tmp_path / "mlp" / "model.safetensors").is_file()
    message = capfd.readouterr().err
    assert "training a small mlp model" in message and "CPU thread(s)" in message

    # next time the cached model is served, without training
    assert demo.resolve_model("mlp", None, tmp_path, train=False, data=data) == trained


def test_every_family_names_a_known_shipped_model():
    assert {spec.shipped for spec in demo.FAMILIES.values()} <= set(PRETRAINED_MODELS)
