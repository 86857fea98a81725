"""Run a training script in a fresh process and kill it right after it saves a given checkpoint."""

import subprocess

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
