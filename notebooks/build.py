"""Build the course's notebooks from their sources: each `notebooks/src/<name>.py` (cells begin at `# %%`, Markdown
cells at `# %% [markdown]` with every line a comment) becomes `notebooks/<name>.ipynb`, run top to bottom so that it
is kept with its outputs (pictures included). Every notebook opens with the same setup cell (SETUP), which makes it
run in Colab too. Run from anywhere:

    python notebooks/build.py                # every notebook
    python notebooks/build.py 01_a_neuron    # those whose name starts so
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

# The first cell of every notebook. In a clone of hfnets (the course's notebooks/ folder) it only makes sure hfnets
# imports; in Colab or any other fresh place it clones the repository first (the course reads its scripts/ and
# spaces/) and installs hfnets with what it needs.
SETUP = """\
# Setup: in a clone of hfnets, run from its notebooks/ folder, nothing to do. In Colab or any fresh place, hfnets'
# repository (HFNETS_GIT_URL) is cloned and installed, with torch, transformers, diffusers and datasets.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HFNETS_GIT_URL = os.environ.get("HFNETS_GIT_URL", "https://github.com/hfnets/hfnets")  # or a fork, a mirror
if not Path("../hfnets/__init__.py").is_file():  # not in a clone's notebooks/ folder
    if not Path("hfnets/notebooks").is_dir():
        subprocess.run(["git", "clone", "--depth", "1", HFNETS_GIT_URL, "hfnets"], check=True)
    os.chdir("hfnets/notebooks")
if importlib.util.find_spec("hfnets") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", ".."], check=True)
    sys.path.insert(0, str(Path("..").resolve()))  # importable now, without restarting the kernel"""


def cells(source: str) -> list[nbformat.NotebookNode]:
    """The notebook cells of a percent-format source."""
    made, kind, lines = [], None, []

    def close():
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            made.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text:
            made.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            close()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    close()
    return made


def notebook_cells(source: Path) -> list[nbformat.NotebookNode]:
    """The cells of `source`'s notebook: the setup cell, then the source's own."""
    return [nbformat.v4.new_code_cell(SETUP), *cells(source.read_text())]


def build(source: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """The notebook of `source`, executed in this folder (its relative paths are the course's own)."""
    notebook = nbformat.v4.new_notebook(cells=notebook_cells(source))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    for cell in notebook.cells:  # a picture is kept once, as PNG (IPython also sends a JPEG copy of each)
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                output["data"].pop("image/jpeg", None)
    return notebook


def main(prefixes: list[str]) -> None:
    for source in sorted(SOURCES.glob("*.py")):
        if prefixes and not source.stem.startswith(tuple(prefixes)):
            continue
        started = time.perf_counter()
        notebook = build(source)
        target = HERE / f"{source.stem}.ipynb"
        partial = target.with_suffix(".ipynb.partial")
        nbformat.write(notebook, partial)
        partial.replace(target)  # a whole notebook or the old one, never half of one
        print(f"{target.name}: ran in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
