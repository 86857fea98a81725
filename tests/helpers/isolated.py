"""Run Python code in a fresh process where `hfnets` cannot be imported, as on a machine without it."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK_HFNETS = """
import importlib.abc, sys

class _BlockHfnets(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "hfnets" or name.startswith("hfnets."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: hfnets is not installed here)")

sys.meta_path.insert(0, _BlockHfnets())
"""


def run_without_hfnets(
    code: str, cwd: Path, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `code` with hfnets blocked, from `cwd`, with a private modules cache and `env` added; raise with stderr
    on failure."""
    env = {**os.environ, "HF_MODULES_CACHE": str(cwd / "hf_modules"), "PYTHONPATH": "", **(env or {})}
    script = (
        BLOCK_HFNETS + "\ntry:\n    import hfnets\n    raise SystemExit('hfnets should not be importable')\n"
        "except ModuleNotFoundError:\n    pass\n" + textwrap.dedent(code)
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"isolated run failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result
