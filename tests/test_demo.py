"""`hfnets demo` shows, per family: the model given, else the shipped one; it trains nothing, and says how to train
a model where there is none."""

import subprocess
import sys
from pathlib import Path

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


def test_with_no_arguments_the_shipped_models_are_served():
    result = hfnets("demo", "--no_launch")
    assert result.returncode == 0, result.stderr[-3000:]
    shown = served(result.stdout)
    shipped = set(available_pretrained())
    for family, spec in demo.FAMILIES.items():
        if spec.shipped in shipped:
            assert Path(shown[family]) == REPO_ROOT / "pretrained" / spec.shipped
        else:
            assert f"scripts/train_{family}.py" in shown[family]


def test_a_folder_without_a_model_is_refused(tmp_path):
    result = hfnets("demo", "--mlp", str(tmp_path), "--no_launch")
    assert result.returncode == 1 and "holds no saved model" in result.stderr


def test_a_family_with_no_model_is_given_the_command_that_trains_one(monkeypatch):
    def missing(name):
        raise FileNotFoundError(name)

    monkeypatch.setattr(demo, "pretrained_path", missing)
    assert demo.resolve_model("gan", None) is None
    hint = demo.training_hint("gan")
    assert "accelerate launch scripts/train_gan.py --output_dir my-gan" in hint and "hfnets demo --gan my-gan" in hint
    assert (REPO_ROOT / "scripts" / demo.FAMILIES["gan"].script).is_file()


def test_every_family_names_a_known_shipped_model():
    assert {spec.shipped for spec in demo.FAMILIES.values()} <= set(PRETRAINED_MODELS)
