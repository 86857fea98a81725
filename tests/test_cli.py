import json

import PIL.Image

from tests.conftest import REPO_ROOT, run_script

EXAMPLES = REPO_ROOT / "spaces" / "classifier" / "examples"


def test_predict_classifies_the_example_drawings(shipped_mlp_dir):
    files = {"seven_drawn_rgba.png": "7", "two_on_paper.png": "2", "four_light_on_dark.png": "4"}
    result = run_script(
        ["-m", "hfnets.cli", "predict", str(shipped_mlp_dir), *[str(EXAMPLES / f) for f in files], "--json"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {row["image"].split("/")[-1]: row["predictions"][0]["label"] for row in rows} == files
    assert all(len(row["predictions"]) == 3 for row in rows)


def test_predict_reports_each_bad_image_in_one_line_and_classifies_the_rest(shipped_mlp_dir, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    PIL.Image.new("L", (300, 300), "white").save(tmp_path / "blank.png")
    PIL.Image.new("L", (9000, 9000), "white").save(tmp_path / "huge.png")  # more pixels than will be decoded
    good = str(EXAMPLES / "two_on_paper.png")
    bad = {name: str(tmp_path / name) for name in ("nope.png", "notes.png", "blank.png", "huge.png")}
    result = run_script(["-m", "hfnets.cli", "predict", str(shipped_mlp_dir), *bad.values(), good])
    assert result.returncode == 2
    assert result.stdout.splitlines() == [f"{good}: " + result.stdout.split(": ", 1)[1].strip()]
    assert result.stdout.split(": ")[1].startswith("2 (")
    errors = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in errors] == list(bad.values())
    assert "no such image file" in errors[0] and "Could not read an image" in errors[1]
    assert "No digit found" in errors[2] and "9000x9000 pixels, more than the 64,000,000 accepted" in errors[3]
    assert "Traceback" not in result.stderr


def test_predict_refuses_what_is_not_a_classifier_in_one_line(trained_dirs, tmp_path):
    image = str(EXAMPLES / "two_on_paper.png")
    cases = {
        str(tmp_path / "missing"): "no such model folder",
        str(trained_dirs["gan"]): "is an image generator (a diffusers pipeline), not a classifier",
        str(trained_dirs["gpt"]): "holds a CharGptForCausalLM, not an image classifier",
        str(tmp_path): "holds no config.json",
    }
    for model, message in cases.items():
        result = run_script(["-m", "hfnets.cli", "predict", model, image])
        assert result.returncode == 2, model
        assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr, model


def test_predict_with_truncated_weights_says_so_in_one_whole_line(trained_dirs, tmp_path):
    import shutil

    model = tmp_path / "mlp"
    shutil.copytree(trained_dirs["mlp"], model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for remote in ([], ["--trust_remote_code"]):  # hfnets' own classes, and the folder's code files
        result = run_script(["-m", "hfnets.cli", "predict", str(model), str(EXAMPLES / "two_on_paper.png"), *remote])
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert "is corrupt or truncated" in result.stderr and "Save or download the model again" in result.stderr


def test_export_copies_what_a_push_would_upload_and_replaces_an_earlier_copy(trained_dirs, tmp_path):
    source = trained_dirs["gan"]
    (source / "checkpoint-1").mkdir(exist_ok=True)  # by-products that stay local
    (source / "checkpoint-1" / "optimizer.bin").write_bytes(b"state")
    destination = tmp_path / "pretrained" / "mnist-gan"
    destination.mkdir(parents=True)
    (destination / "stale.txt").write_text("from an earlier export")

    result = run_script(["-m", "hfnets.cli", "export", str(source), str(destination)])
    assert result.returncode == 0, result.stderr[-3000:]
    copied = sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())
    assert "model_index.json" in copied and "README.md" in copied and "pipeline_gan.py" in copied
    assert not any(name.startswith(("checkpoint-", "runs/")) or name == "stale.txt" for name in copied)
    for name in copied:
        assert (destination / name).read_bytes() == (source / name).read_bytes()
    assert [p.name for p in destination.parent.iterdir()] == ["mnist-gan"]  # no staging folder left behind


def test_export_refuses_a_folder_that_would_not_load(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    result = run_script(["-m", "hfnets.cli", "export", str(tmp_path / "half"), str(tmp_path / "out")])
    assert result.returncode == 1 and "no weights" in result.stderr
    assert not (tmp_path / "out").exists()


def test_version_is_the_package_version():
    import hfnets

    result = run_script(["-m", "hfnets.cli", "--version"])
    assert result.returncode == 0 and result.stdout.strip() == f"hfnets {hfnets.__version__}"


def test_import_loads_diffusers_only_when_a_diffusers_family_is_used():
    code = (
        "import sys, hfnets, transformers; "
        "auto = transformers.AutoModelForImageClassification; "
        "print('diffusers' in sys.modules); hfnets.GanPipeline; print('diffusers' in sys.modules)"
    )
    result = run_script(["-c", code])
    assert result.returncode == 0 and result.stdout.split() == ["False", "True"], result.stderr[-2000:]
