"""The course's notebooks (notebooks/src, built by notebooks/build.py) run top to bottom without an error, offline,
each showing at least one picture; their by-hand computations are checked against the models by assertions inside
them, so a notebook that runs is one whose numbers agree with the model's."""

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.py"))


def load_builder():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.notebook
@pytest.mark.parametrize("source", SOURCES, ids=[source.stem for source in SOURCES])
def test_the_notebook_runs_offline_and_draws(source: Path, monkeypatch, tmp_path):
    pytest.importorskip("nbclient", reason="needs the dev extras (pip install -e '.[dev]')")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the kernel inherits the environment
    monkeypatch.setenv("HOME", str(tmp_path))
    notebook = load_builder().build(source)
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)


@pytest.mark.parametrize("source", SOURCES, ids=[source.stem for source in SOURCES])
def test_the_kept_notebook_is_built_from_its_source(source: Path):
    """The .ipynb kept in the repository has its source's cells (rebuilt with `python notebooks/build.py`)."""
    nbformat = pytest.importorskip("nbformat", reason="needs the dev extras (pip install -e '.[dev]')")
    kept = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    built = load_builder().notebook_cells(source)
    assert [(cell.cell_type, cell.source) for cell in kept.cells] == [(c.cell_type, c.source) for c in built]
