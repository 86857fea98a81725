"""Run a training script in a fresh process and kill it right after it saves a given checkpoint."""

import os
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT, run_script

DRIVER = """
import importlib.util
spec = importlib.util.spec_from_file_location("script", {script!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
save_checkpoint = module.save_checkpoint
def save_then_die(accelerator, output_dir, step, *args, **kwargs):
    path = save_checkpoint(accelerator, output_dir, step, *args, **kwargs)
    if step == {step}:
        raise KeyboardInterrupt("simulated kill after step {step}")
    return path
module.save_checkpoint = save_then_die
module.main({argv!r})
"""


def run_killed_after_checkpoint(script: str, argv: list[str], step: int) -> subprocess.CompletedProcess:
    """Run `scripts/<script>` with `argv`; it dies (KeyboardInterrupt) once checkpoint-<step> is on disk."""
    driver = DRIVER.format(script=str(REPO_ROOT / "scripts" / script), argv=argv, step=step)
    return run_script(["-c", driver])


def run_with_random_kills(script: str, argv: list[str], output_dir, kills: int, seed: int = 0):
    """Run `scripts/<script>` and kill -9 it `kills` times at random moments (0-0.3 s after its 1st or 2nd saved
    checkpoint of that launch: mid-step, mid-save or mid-evaluation), resuming each time from its latest checkpoint;
    then let it finish. Returns the last, complete run."""
    import random
    import signal

    from hfnets.training.checkpointing import list_checkpoints

    chance = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for _ in range(kills):
        resume = ["--resume_from_checkpoint", "latest"] if list_checkpoints(output_dir) else []
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "scripts" / script), *argv, *resume],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wanted, saved = chance.randint(1, 2), 0
        for line in process.stderr:
            saved += "Saved checkpoint" in line
            if saved == wanted:
                break
        time.sleep(chance.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.communicate()
    resume = ["--resume_from_checkpoint", "latest"] if list_checkpoints(output_dir) else []
    return run_script([f"scripts/{script}", *argv, *resume])
