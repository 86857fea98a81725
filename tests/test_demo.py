"""`hfnets demo` shows, per family: the model given, else its environment variable's, else the shipped one (the demos'
own table, spaces/settings.py); it trains nothing, and says how to train a model where there is none."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from hfnets import demo
from hfnets.resources import PRETRAINED_MODELS, available_pretrained, import_spaces
from tests.conftest import REPO_ROOT

settings = import_spaces("settings")


def hfnets(*args: str, **environ: str) -> subprocess.CompletedProcess:
    variables = {spec.variable for spec in settings.FAMILIES.values()}
    env = {name: value for name, value in os.environ.items() if name not in variables} | environ
    return subprocess.run(
        [sys.executable, "-m", "hfnets.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def served(stdout: str) -> dict[str, str]:
    """The models `hfnets demo --no_launch` resolved, by family (the Playground's digits aside)."""
    lines = dict(line.split(maxsplit=1) for line in stdout.strip().splitlines())
    return {family: model for family, model in lines.items() if family != "digits"}


def test_given_folders_are_served_as_they_are(trained_dirs):
    given = [f"--{family}={folder}" for family, folder in trained_dirs.items()]
    result = hfnets("demo", *given, "--no_launch")
    assert result.returncode == 0, result.stderr[-3000:]
    assert served(result.stdout) == {family: str(folder) for family, folder in trained_dirs.items()}


def test_with_no_arguments_the_shipped_models_are_served_unless_a_variable_names_another(trained_dirs):
    result = hfnets("demo", "--no_launch")
    assert result.returncode == 0, result.stderr[-3000:]
    shown = served(result.stdout)
    shipped = set(available_pretrained())
    for family, spec in settings.FAMILIES.items():
        if spec.shipped in shipped:
            assert Path(shown[family]) == REPO_ROOT / "pretrained" / spec.shipped
        else:
            assert f"scripts/train_{family}.py" in shown[family]
    result = hfnets("demo", "--no_launch", GAN_MODEL_ID=str(trained_dirs["gan"]))
    assert served(result.stdout)["gan"] == str(trained_dirs["gan"])


def test_a_folder_without_a_model_is_refused(tmp_path):
    result = hfnets("demo", "--mlp", str(tmp_path), "--no_launch")
    assert result.returncode == 1 and "holds no saved model" in result.stderr


def test_a_model_that_is_not_there_is_refused_in_one_line_before_anything_loads(tmp_path):
    offline = hfnets("demo", "--mlp", "runs/nothing", "--no_launch", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path))
    assert offline.returncode == 1 and offline.stderr.strip().count("\n") == 0
    assert "--mlp runs/nothing is not a folder here, and HF_HUB_OFFLINE is set" in offline.stderr
    path = hfnets("demo", "--gan", "./runs/nothing", "--no_launch")
    assert path.returncode == 1 and "--gan ./runs/nothing: no such folder" in path.stderr


def test_a_family_with_no_model_is_given_the_command_that_trains_one(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(settings, "SHIPPED", tmp_path)  # nothing shipped here
    monkeypatch.delenv("GAN_MODEL_ID", raising=False)
    args = SimpleNamespace(**dict.fromkeys(settings.FAMILIES), dataset=None, no_launch=True)
    assert demo.run_demo(args) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("gan "))
    assert "accelerate launch scripts/train_gan.py --output_dir my-gan" in line and "hfnets demo --gan" in line
    assert (REPO_ROOT / "scripts" / settings.FAMILIES["gan"].script).is_file()


def test_every_family_names_a_known_shipped_model():
    assert {spec.shipped for spec in settings.FAMILIES.values()} <= set(PRETRAINED_MODELS)


def test_the_playground_digits_are_named_by_flag_else_variable_else_the_hub(tmp_path):
    def digits(*args, **environ):
        result = hfnets("demo", *args, "--no_launch", **environ)
        assert result.returncode == 0, result.stderr[-3000:]
        return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("digits "))

    assert digits(DATASET="") == "ylecun/mnist"
    assert digits(DATASET=str(tmp_path)) == str(tmp_path)
    assert digits("--dataset", "local/mnist", DATASET=str(tmp_path)) == "local/mnist"
