"""Files saved next to the weights may import only what a machine without hfnets has, and their own siblings."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hfnets"
TRAVELLING_FILES = sorted(
    path
    for pattern in (
        "*/configuration_*.py",
        "*/modeling_*.py",
        "*/image_processing_*.py",
        "*/tokenization_*.py",
        "*/pipeline_*.py",
    )
    for path in PACKAGE.glob(pattern)
)
# What every machine that loads a transformers/diffusers model has.
ALLOWED_TOP_LEVEL = {"torch", "transformers", "diffusers", "numpy", "PIL", "safetensors"}


def test_there_are_travelling_files():
    assert {p.name for p in TRAVELLING_FILES} >= {"configuration_mlp.py", "modeling_mlp.py", "image_processing_mlp.py"}


@pytest.mark.parametrize("path", TRAVELLING_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_imports_are_stdlib_libraries_or_flat_siblings(path):
    import sys

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                assert top in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names, f"{path.name}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = node.module.split(".")[0]
                assert top in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names, f"{path.name}: from {node.module}"
            else:
                assert node.level == 1 and node.module and "." not in node.module, (
                    f"{path.name}: only `from .sibling import X` travels, got level {node.level} {node.module}"
                )
                assert (path.parent / f"{node.module}.py").is_file()


@pytest.mark.parametrize("path", [p for p in TRAVELLING_FILES if p.name.startswith("pipeline_")], ids=lambda p: p.name)
def test_pipelines_import_no_sibling(path):
    # diffusers loads each component's code from the component's own subfolder, not beside the pipeline file.
    relative = [
        node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert not relative, f"{path.name} imports a sibling file; diffusers would not find it"
