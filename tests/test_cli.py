import json

from tests.conftest import REPO_ROOT, run_script

EXAMPLES = REPO_ROOT / "spaces" / "mnist-classifier" / "examples"


def test_predict_classifies_the_example_drawings(trained_mlp_dir):
    files = {"seven_drawn_rgba.png": "7", "two_on_paper.png": "2", "four_light_on_dark.png": "4"}
    result = run_script(
        ["-m", "hfnets.cli", "predict", str(trained_mlp_dir), *[str(EXAMPLES / f) for f in files], "--json"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {row["image"].split("/")[-1]: row["predictions"][0]["label"] for row in rows} == files
    assert all(len(row["predictions"]) == 3 for row in rows)


def test_predict_reports_missing_and_unreadable_files(trained_mlp_dir, tmp_path):
    result = run_script(["-m", "hfnets.cli", "predict", str(trained_mlp_dir), str(tmp_path / "nope.png")])
    assert result.returncode == 2 and "no such image file" in result.stderr
    (tmp_path / "notes.png").write_text("not an image")
    result = run_script(["-m", "hfnets.cli", "predict", str(trained_mlp_dir), str(tmp_path / "notes.png")])
    assert result.returncode == 2 and "cannot read" in result.stderr
