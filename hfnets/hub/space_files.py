"""What a Space carries. A plain folder (app.py, requirements.txt, README.md) goes up as it is. An hfnets demo, a
package of `spaces/` (`spaces/gan`), is laid out to run alone: under `demos/`, its own package and every module or
demo package of `spaces/` it imports (found in its code), started by a two-line `app.py`; its README.md and
requirements.txt become the Space's."""

import ast
import importlib.util
from pathlib import Path

DEMOS_PACKAGE = "demos"  # not `spaces`: Spaces' own `spaces` package (ZeroGPU) is installed on every Gradio Space
LAUNCHER = '''"""Starts the hfnets {demo} demo; its code is the package `{package}/{demo}/`."""

from {package}.{demo}.app import main

main()
'''
SPACE_METADATA = ("README.md", "requirements.txt")  # a demo's own; the Space's come from the demo it shows


def is_demo(space_dir: Path) -> bool:
    """A demo of the hfnets demos' package: a package folder inside a package."""
    return (space_dir / "__init__.py").is_file() and (space_dir.parent / "__init__.py").is_file()


def _imported_entries(path: Path, package: Path) -> set[str]:
    """The top-level entries of `package` (a module `settings` or a demo package `gpt`) that the relative imports of
    the file `path` reach."""
    parts = list(path.relative_to(package).parent.parts)
    entries = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = parts[: len(parts) - (node.level - 1)]
        targets = [base + node.module.split(".")] if node.module else [base + [alias.name] for alias in node.names]
        entries |= {target[0] for target in targets if target}
    return entries


def _entry_files(package: Path, entry: str) -> list[Path]:
    folder = package / entry
    if folder.is_dir():
        return [p for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return [package / f"{entry}.py"]


def demo_files(space_dir: Path) -> list[Path]:
    """The files of the demos' package that the demo `space_dir` needs: the package's `__init__.py`, the demo's own
    package, and whatever its code imports from the package, transitively."""
    package = space_dir.parent
    entries, todo = set(), [space_dir.name]
    while todo:
        entry = todo.pop()
        if entry in entries:
            continue
        if not (package / entry).is_dir() and not (package / f"{entry}.py").is_file():
            raise FileNotFoundError(f"{space_dir} imports {entry} from {package}, which has no such module.")
        entries.add(entry)
        for path in _entry_files(package, entry):
            if path.suffix == ".py":
                todo += sorted(_imported_entries(path, package) - entries)
    files = [package / "__init__.py"]
    for entry in sorted(entries):
        files += [
            path
            for path in _entry_files(package, entry)
            if not (path.parent != package and path.name in SPACE_METADATA and path.parent.parent == package)
        ]
    return files


def demo_space_files(space_dir: Path) -> list[tuple[Path | bytes, str]]:
    """(a file, or the bytes, and its path in the Space) for the demo `space_dir`, besides its README."""
    package = space_dir.parent
    launcher = LAUNCHER.format(demo=space_dir.name, package=DEMOS_PACKAGE).encode()
    files: list[tuple[Path | bytes, str]] = [
        (launcher, "app.py"),
        (space_dir / "requirements.txt", "requirements.txt"),
    ]
    files += [(path, f"{DEMOS_PACKAGE}/{path.relative_to(package).as_posix()}") for path in demo_files(space_dir)]
    return files


def demo_variables(space_dir: Path) -> list[str]:
    """The environment variables through which a Space of the demo `space_dir` is given its models, from the demos'
    own table (`settings.py` beside the demo)."""
    spec = importlib.util.spec_from_file_location("hfnets_space_settings", space_dir.parent / "settings.py")
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    return settings.space_variables(space_dir.name)
