"""Every snippet in README.md runs as written: the Python blocks run on the shipped models, and every
`accelerate launch` and `hfnets` command line parses with the flags of the script or command it names."""

import json
import re
import shlex
import subprocess
import sys

import pytest

from hfnets.resources import available_pretrained
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.DOTALL)
PYTHON_BLOCKS = [code for language, code in BLOCKS if language == "python"]


def command_lines(language: str = "bash") -> list[str]:
    """The commands of the README's shell blocks, continuation lines joined, comments dropped."""
    lines = []
    for block_language, code in BLOCKS:
        if block_language == language:
            joined = re.sub(r"\\\n\s*", " ", code)
            lines += [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]
    return [line for line in lines if line]


def test_the_readme_is_a_short_product_page():
    assert len(README.splitlines()) <= 210
    assert PYTHON_BLOCKS and command_lines()


def test_python_snippets_run_as_written():
    """Every Python block, as written, in one fresh Python (the imports are paid once), each in a namespace of its
    own; a block that loads a model this checkout does not ship is left out."""
    shipped = set(available_pretrained())
    blocks = [code for code in PYTHON_BLOCKS if set(re.findall(r'pretrained_path\("([\w-]+)"\)', code)) <= shipped]
    if not blocks:
        pytest.skip("every snippet loads a model this checkout does not ship")
    runner = (
        "import json, sys, traceback\n"
        "failures = []\n"
        "for code in json.load(sys.stdin):\n"
        "    try:\n"
        "        exec(compile(code, 'README.md', 'exec'), {'__name__': '__main__'})\n"
        "    except BaseException:\n"
        "        failures.append(f'{code}\\n{traceback.format_exc()[-3000:]}')\n"
        "print(json.dumps(failures))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", runner],
        input=json.dumps(blocks),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n\n".join(failures)


def launch_lines() -> list[list[str]]:
    return [line for line in command_lines() if line[:2] == ["accelerate", "launch"]]


@pytest.mark.parametrize("line", launch_lines(), ids=lambda line: " ".join(line)[:60])
def test_training_commands_parse_with_the_scripts_flags(line):
    import importlib.util

    from accelerate.commands.launch import launch_command_parser

    launch = launch_command_parser().parse_args(line[2:])
    script = REPO_ROOT / launch.training_script
    assert script.is_file(), launch.training_script
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.parse_args(launch.training_script_args)  # exits with argparse's message on an unknown or bad flag


@pytest.mark.parametrize(
    "line", [line for line in command_lines() if line[0] == "hfnets"], ids=lambda line: " ".join(line)[:60]
)
def test_hfnets_commands_parse(line):
    from hfnets.cli import build_parser

    build_parser().parse_args(line[1:])
