"""Code that must exist twice is marked `# Copied from <module>.<name>` above the copy, as transformers marks its
copies, and kept identical to its original. The original may be a function, a class, a method
(`hfnets.gan.pipeline_gan.GanPipeline.check_inputs`) or a constant, in the package, a demo (`spaces.gan.inside`) or a
training script (`scripts.train_mlp.evaluate`); `with A->B, C->D` names the words the copy changes (`with Gan->Ddpm`).
Files that travel alone (to the Hub with the weights) and scripts that read top to bottom are why copies exist."""

import ast
import re
import textwrap

import pytest

from tests.conftest import REPO_ROOT

ROOTS = ("hfnets", "spaces", "scripts")
MARKER = re.compile(r"^[ \t]*# Copied from ((?:hfnets|spaces|scripts)\.[\w.]+)(?: with (.+))?$", re.MULTILINE)
FILES = sorted(path for root in ROOTS for path in (REPO_ROOT / root).rglob("*.py"))
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def names_of(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [target.id for target in targets if isinstance(target, ast.Name)]


def segment(source: str, node) -> str:
    """A definition's source with its decorators, dedented (a method compares like a function)."""
    lines = source.splitlines()
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno]))


def original_source(dotted: str) -> str | None:
    """The source of `hfnets.gan.pipeline_gan.GanPipeline.check_inputs`: the longest prefix that is a file, then
    the definitions inside it."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        path = REPO_ROOT.joinpath(*parts[:cut]).with_suffix(".py")
        if path.is_file():
            source = path.read_text()
            body = ast.parse(source).body
            for name in parts[cut:]:
                node = next((n for n in body if isinstance(n, DEFINITIONS) and name in names_of(n)), None)
                if node is None:
                    return None
                body = getattr(node, "body", [])
            return segment(source, node)
    return None


def copy_after(path, marker_line: int) -> str | None:
    """The definition that starts on the line after the marker (its decorators included)."""
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, DEFINITIONS):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            if first == marker_line + 1:
                return segment(source, node)
    return None


def marked_copies() -> list[tuple]:
    copies = []
    for path in FILES:
        text = path.read_text()
        for match in MARKER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            copies.append((path.relative_to(REPO_ROOT).as_posix(), line, match.group(1), match.group(2)))
    return copies


def replaced(source: str, replacements: str | None) -> str:
    for pair in (replacements or "").split(","):
        if pair.strip():
            old, new = (word.strip() for word in pair.split("->"))
            source = source.replace(old, new)
    return source


def test_there_are_marked_copies_of_functions_methods_and_script_code():
    copies = marked_copies()
    assert len(copies) >= 4
    assert {copy.split("/")[0] for copy, *_ in copies} >= {"hfnets"}


@pytest.mark.parametrize(("copy", "line", "original", "replacements"), marked_copies())
def test_each_marked_copy_equals_its_original(copy, line, original, replacements):
    expected = original_source(original)
    assert expected is not None, f"{copy}:{line}: no {original} to copy from"
    actual = copy_after(REPO_ROOT / copy, line)
    assert actual is not None, f"{copy}:{line}: the marker stands above no definition"
    assert actual == replaced(expected, replacements), f"{copy}:{line} differs from {original}; copy it over again"


def test_the_check_reads_methods_and_replacements(tmp_path):
    """A copy of a method, with its names changed as the marker says, compares equal; a drifted one does not."""
    original = "class Gan:\n    def run(self):\n        return 'gan'  # Gan\n"
    tree = ast.parse(original)
    method = segment(original, tree.body[0].body[0])
    assert replaced(method, "Gan->Ddpm, gan->ddpm") == "def run(self):\n    return 'ddpm'  # Ddpm"
    assert replaced(method, None) != "def run(self):\n    return 'ddpm'  # Ddpm"
