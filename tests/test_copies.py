"""Code that must exist twice, because each file travels alone (to the Hub with the weights, or as a Space), is
marked `# Copied from <module>.<name>` (as transformers marks its copies; `spaces.gan.app` is spaces/gan/app.py) and
kept identical to its original."""

import ast
import re

import pytest

from tests.conftest import REPO_ROOT

MARKER = re.compile(r"^# Copied from ((?:hfnets|spaces)\.[\w.-]+)\.(\w+)$", re.MULTILINE)
FILES = sorted([*(REPO_ROOT / "hfnets").rglob("*.py"), *(REPO_ROOT / "spaces").rglob("*.py")])


def top_level_source(path, name: str) -> str | None:
    source = path.read_text()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return ast.get_source_segment(source, node)
    return None


def marked_copies() -> list[tuple]:
    copies = []
    for path in FILES:
        for match in MARKER.finditer(path.read_text()):
            original = match.group(1).replace(".", "/") + ".py"
            copies.append((path.relative_to(REPO_ROOT).as_posix(), original, match.group(2)))
    return copies


def test_there_are_marked_copies():
    assert len(marked_copies()) >= 9


@pytest.mark.parametrize(("copy", "original", "name"), marked_copies())
def test_each_marked_copy_equals_its_original(copy, original, name):
    expected = top_level_source(REPO_ROOT / original, name)
    assert expected is not None, f"{original} defines no {name}"
    actual = top_level_source(REPO_ROOT / copy, name)
    assert actual == expected, f"{copy}: {name} differs from {original}; copy it over again"
