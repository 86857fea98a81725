"""Code that must exist twice is marked `# Copied from <module>.<name>` above the copy, as transformers marks its
copies, and kept identical to its original. The original may be a function, a class, a method
(`hfnets.gan.pipeline_gan.GanPipeline.check_inputs`) or a constant, in the package, a demo (`spaces.gan.inside`) or a
training script (`scripts.train_mlp.mistakes_image`); `with A->B, C->D` names the words the copy changes.

A training script's numbered step can be a copy of another script's: `# Copied from scripts.train_mlp.main step 6`
under the step's title makes the code of the step (up to the next numbered step, its leading comments aside) a copy
of the code of step 6 of `main` in scripts/train_mlp.py. A step inside the training loop (`# 4c. ...`) ends where the
loop's body does. The steps stay inline, where a script reads top to bottom.
Files that travel alone (to the Hub with the weights) and scripts that read top to bottom are why copies exist."""

import ast
import re
import textwrap

import pytest

from tests.conftest import REPO_ROOT

ROOTS = ("hfnets", "spaces", "scripts")
MARKER = re.compile(
    r"^[ \t]*# Copied from ((?:hfnets|spaces|scripts)\.[\w.]+(?: step \d+[a-z]?)?)(?: with (.+))?$", re.MULTILINE
)
STEP_TITLE = re.compile(r"^(\s*)# (\d+[a-z]?)\. ")
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


def step_code(lines: list[str], start: int, end: int, indent: str) -> str:
    """The code of a step: lines[start:end] up to the next numbered step at `indent`, its leading comments and blank
    lines and its trailing blank lines left out."""
    block = []
    for line in lines[start:end]:
        title = STEP_TITLE.match(line)
        if title and title.group(1) == indent:
            break
        block.append(line)
    while block and (not block[0].strip() or block[0].strip().startswith("#")):
        block.pop(0)
    while block and not block[-1].strip():
        block.pop()
    return "\n".join(block)


def function_span(source: str, name: str) -> tuple[int, int] | None:
    """(first body line, end line), 0-based, of the top-level function `name`."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.body[0].lineno - 1, node.end_lineno
    return None


def original_step(dotted: str) -> str | None:
    """The code of `scripts.train_mlp.main step 6`."""
    target, number = dotted.split(" step ")
    module, function = target.rsplit(".", 1)
    path = REPO_ROOT.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return None
    source = path.read_text()
    span = function_span(source, function)
    if span is None:
        return None
    lines = source.splitlines()
    for index in range(*span):
        title = STEP_TITLE.match(lines[index])
        if title and title.group(2) == number:
            end = block_end(lines, index + 1, span[1], title.group(1))
            return step_code(lines, index + 1, end, title.group(1))
    return None


def block_end(lines: list[str], start: int, end: int, indent: str) -> int:
    """Where the block of lines at `indent` that goes on from `start` ends (a step inside a loop ends with the loop's
    body), at `end` at the latest."""
    return next((i for i in range(start, end) if lines[i].strip() and not lines[i].startswith(indent)), end)


def copied_step(path, marker_line: int) -> str:
    """The code of the step whose title the marker stands under."""
    lines = path.read_text().splitlines()
    indent = lines[marker_line - 1][: len(lines[marker_line - 1]) - len(lines[marker_line - 1].lstrip())]
    return step_code(lines, marker_line, block_end(lines, marker_line, len(lines), indent), indent)


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
    if " step " in original:  # a numbered step of a training script
        expected = original_step(original)
        assert expected, f"{copy}:{line}: no code in {original} to copy from"
        actual = copied_step(REPO_ROOT / copy, line)
        assert actual == replaced(expected, replacements), f"{copy}:{line} differs from {original}; copy it over again"
        return
    expected = original_source(original)
    assert expected is not None, f"{copy}:{line}: no {original} to copy from"
    actual = copy_after(REPO_ROOT / copy, line)
    assert actual is not None, f"{copy}:{line}: the marker stands above no definition"
    assert actual == replaced(expected, replacements), f"{copy}:{line} differs from {original}; copy it over again"


def test_a_step_is_its_code_up_to_the_next_step_without_its_title_and_comments():
    lines = [
        "    # 5. Resume.",
        "    # more words",
        "    resumed = resume()",
        "    if resumed:",
        "        # 6. not a step of main (indented deeper)",
        "        go()",
        "",
        "    # 6. The loop.",
        "    loop()",
    ]
    assert step_code(lines, 1, len(lines), "    ") == "\n".join(lines[2:6])


def test_a_step_inside_the_loop_ends_with_the_loop_body(tmp_path):
    script = tmp_path / "train_x.py"
    script.write_text(
        "def main():\n"
        "    # 4. The loop.\n"
        "    for batch in batches:\n"
        "        # 4a. Step.\n"
        "        step(batch)\n"
        "        # 4b. Count.\n"
        "        count += 1\n"
        "    done()\n"
    )
    lines = script.read_text().splitlines()
    assert copied_step(script, 6) == "        count += 1"
    assert step_code(lines, 4, block_end(lines, 4, len(lines), "        "), "        ") == "        step(batch)"


def test_the_check_reads_methods_and_replacements(tmp_path):
    """A copy of a method, with its names changed as the marker says, compares equal; a drifted one does not."""
    original = "class Gan:\n    def run(self):\n        return 'gan'  # Gan\n"
    tree = ast.parse(original)
    method = segment(original, tree.body[0].body[0])
    assert replaced(method, "Gan->Ddpm, gan->ddpm") == "def run(self):\n    return 'ddpm'  # Ddpm"
    assert replaced(method, None) != "def run(self):\n    return 'ddpm'  # Ddpm"
