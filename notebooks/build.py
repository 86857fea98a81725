"""Build the course's notebooks from their sources: each `notebooks/src/<name>.py` (cells begin at `# %%`, Markdown
cells at `# %% [markdown]` with every line a comment) becomes `notebooks/<name>.ipynb`, run top to bottom so that it
is kept with its outputs (pictures included). Run from anywhere:

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


def build(source: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """The notebook of `source`, executed in this folder (its relative paths are the course's own)."""
    notebook = nbformat.v4.new_notebook(cells=cells(source.read_text()))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
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
