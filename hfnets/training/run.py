"""A training script as a command: its progress bar, its end on every process, and its errors as one line."""

import gc
import os
import sys
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from .output_dir import remove_unused_output_dirs


def training_progress_bar(accelerator: Accelerator, max_train_steps: int, completed_steps: int = 0) -> tqdm:
    """The optimizer steps' progress bar, shown by the main process of each machine; a resumed run starts it at the
    steps already completed."""
    return tqdm(
        total=max_train_steps, initial=completed_steps, disable=not accelerator.is_local_main_process, desc="train"
    )


def end_run(accelerator: Accelerator, *prepared) -> None:
    """The end every script shares, on every process: wait for the others, drop the accelerator's own references to
    the `prepared` models and optimizers, and end the trackers. The process group is left to `run_main`, which ends it
    after `main()` has returned and freed the DDP wrappers it still holds."""
    accelerator.wait_for_everyone()
    accelerator.free_memory(*prepared)
    for tracker in accelerator.trackers:
        tracker.finish()


def run_main(main) -> None:
    """Run a training script's `main()` as a command: a user error (bad flags, data, folders or disk: `ValueError`,
    `OSError`) is one line on stderr and exit code 2, not a traceback. `HFNETS_DEBUG=1` shows the traceback.

    A run that fails leaves no output folder it made and wrote nothing into. The process group of a multi-process run
    ends here, once `main()` has returned: its locals, the DDP-wrapped
    models among them, are gone by then. Ended inside `main()`, the wrappers would outlive the group and be torn down
    after it, which can leave a rank waiting forever at exit for a peer that has left."""
    try:
        main()
    except (ValueError, OSError) as error:
        remove_unused_output_dirs()  # a run that failed before writing anything leaves no empty folder
        if os.environ.get("HFNETS_DEBUG"):
            raise
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except BaseException:
        remove_unused_output_dirs()
        raise
    gc.collect()  # anything of main() that a reference cycle kept alive goes now, while the group still exists
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
