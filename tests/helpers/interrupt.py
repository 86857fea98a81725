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
import hfnets.training.checkpointing as checkpointing
save_checkpoint = checkpointing.save_checkpoint
def save_then_die(accelerator, output_dir, step, *args, **kwargs):
    path = save_checkpoint(accelerator, output_dir, step, *args, **kwargs)
    if step == {step}:
        raise KeyboardInterrupt("simulated kill after step {step}")
    return path
checkpointing.save_checkpoint = save_then_die  # what the run's checkpoint function (resume_run) calls
module.main({argv!r})
"""


def run_killed_after_checkpoint(script: str, argv: list[str], step: int) -> subprocess.CompletedProcess:
    """Run `scripts/<script>` with `argv`; it dies (KeyboardInterrupt) once checkpoint-<step> is on disk."""
    driver = DRIVER.format(script=str(REPO_ROOT / "scripts" / script), argv=argv, step=step)
    return run_script(["-c", driver])


class SimulatedKill(BaseException):
    """Raised from inside a run, as a crash would stop it (not an Exception: nothing in the run catches it)."""


def interrupt_in_process(script: str, argv: list[str], step: int) -> None:
    """Run `scripts/<script>`'s `main(argv)` in this process until checkpoint-<step> is on disk, then stop it there,
    as a crash right after that save would (the slow tests kill fresh processes with SIGKILL at random moments)."""
    import hfnets.training.checkpointing as checkpointing
    from tests.conftest import run_in_process

    save_checkpoint = checkpointing.save_checkpoint

    def save_then_die(accelerator, output_dir, saved_step, *args, **kwargs):
        path = save_checkpoint(accelerator, output_dir, saved_step, *args, **kwargs)
        if saved_step == step:
            raise SimulatedKill(f"simulated kill after step {step}")
        return path

    checkpointing.save_checkpoint = save_then_die  # what the run's checkpoint function (resume_run) calls
    try:
        run_in_process(script, argv)
    except SimulatedKill:
        return
    finally:
        checkpointing.save_checkpoint = save_checkpoint
    raise AssertionError(f"{script} finished without saving checkpoint-{step}")


def run_with_random_kills(script: str, argv: list[str], output_dir, kills: int, seed: int = 0, launcher=None):
    """Run `scripts/<script>` and kill -9 it `kills` times at random moments (0-0.3 s after its 1st or 2nd saved
    checkpoint of that launch: mid-step, mid-save or mid-evaluation), resuming each time from its latest checkpoint;
    then let it finish. Returns the last, complete run. `launcher` (e.g. `accelerate launch --num_processes 2`)
    runs the script under it; a kill then goes to the launcher and every process it started."""
    import random
    import signal

    from hfnets.training.checkpointing import list_checkpoints

    chance = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for _ in range(kills):
        resume = ["--resume_from_checkpoint", "latest"] if list_checkpoints(output_dir) else []
        process = subprocess.Popen(
            [*(launcher or [sys.executable]), str(REPO_ROOT / "scripts" / script), *argv, *resume],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the kill reaches every process of the run
        )
        wanted, saved = chance.randint(1, 2), 0
        for line in process.stderr:
            saved += "Saved checkpoint" in line
            if saved == wanted:
                break
        time.sleep(chance.uniform(0, 0.3))
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    resume = ["--resume_from_checkpoint", "latest"] if list_checkpoints(output_dir) else []
    if launcher is None:
        return run_script([f"scripts/{script}", *argv, *resume])
    command = [*launcher, str(REPO_ROOT / "scripts" / script), *argv, *resume]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def killed_and_uninterrupted(script: str, args_for, tmp_path, kills: int) -> tuple:
    """(uninterrupted folder, killed folder): `scripts/<script>` run once without interruption into tmp_path/reference
    and once killed -9 `kills` times at random moments and resumed into tmp_path/killed; `args_for(folder)` gives its
    flags for an output folder. Both runs must end well; the caller compares their weights."""
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    result = run_script([f"scripts/{script}", *args_for(reference)])
    assert result.returncode == 0, result.stderr[-3000:]
    final = run_with_random_kills(script, args_for(killed), killed, kills=kills)
    assert final.returncode == 0, final.stderr[-3000:]
    return reference, killed
