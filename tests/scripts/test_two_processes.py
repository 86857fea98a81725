"""A 2-process data-parallel run (`accelerate launch --num_processes 2`, gloo on the CPU): killed with SIGKILL at
random moments and resumed, it ends with the uninterrupted run's weights, bit for bit."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import REPO_ROOT
from tests.helpers.interrupt import run_with_random_kills
from tests.scripts.test_train_mlp import quick_args

LAUNCH = [
    sys.executable,
    "-m",
    "accelerate.commands.launch",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "--num_cpu_threads_per_process",
    "1",
]


@pytest.mark.slow
def test_a_two_process_run_killed_and_resumed_ends_with_the_same_weights(mnist_dir, tmp_path):
    extra = ["--num_train_epochs", "2", "--dropout", "0.2", "--checkpointing_steps", "4"]
    reference = subprocess.run(
        [*LAUNCH, str(REPO_ROOT / "scripts" / "train_mlp.py"), *quick_args(mnist_dir, tmp_path / "reference", *extra)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]
    killed_dir = tmp_path / "killed"
    final = run_with_random_kills(
        "train_mlp.py", quick_args(mnist_dir, killed_dir, *extra), killed_dir, kills=3, launcher=LAUNCH
    )
    assert final.returncode == 0, final.stderr[-3000:]
    expected, actual = (
        load_file(tmp_path / "reference" / "model.safetensors"),
        load_file(killed_dir / "model.safetensors"),
    )
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
