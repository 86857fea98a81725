"""The run's output folder, made ready before training: refused when it holds another model or an earlier run's
checkpoints (unless the run says to overwrite or resume), cleaned of what a killed run left; and the tracker
started."""

import json
import shutil
from pathlib import Path

from accelerate import Accelerator

from ..atomic import recover_folder
from .checkpointing import CHECKPOINT_PREFIX, check_replaceable, is_model_entry, list_checkpoints

# Values the tensorboard tracker accepts as hyperparameters; others are logged as strings.
_HPARAM_TYPES = (int, float, str, bool)
# Output folders this process made for its run: a run that fails before writing a file removes them again.
_MADE_FOLDERS: list[Path] = []


def prepare_output_dir(
    accelerator: Accelerator, output_dir: str | Path, model_type: str, overwrite: bool = False, resuming: bool = False
) -> None:
    """Create --output_dir, refusing to mix this run with another model or an earlier run's checkpoints.

    `model_type` names what the script saves: a transformers `model_type` or a diffusers pipeline class name.
    `overwrite` (--overwrite_output_dir) starts over in a folder that holds another model or old checkpoints;
    `resuming` (--resume_from_checkpoint) continues the checkpoints there.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output_dir {output_dir} exists and is not a folder.")
    check_replaceable(output_dir)
    existing = _saved_model_kind(output_dir)
    if existing is not None and existing != model_type and not overwrite:
        raise ValueError(
            f"--output_dir {output_dir} already holds a different model ({existing!r}; this script trains "
            f"{model_type!r}). Choose another --output_dir, or pass --overwrite_output_dir to replace it."
        )
    checkpoints = list_checkpoints(output_dir)
    if checkpoints and not resuming and not overwrite:
        raise ValueError(
            f"--output_dir {output_dir} holds checkpoints of an earlier run ({checkpoints[-1].name}). Pass "
            "--resume_from_checkpoint latest to continue it, --overwrite_output_dir to start over, or choose "
            "another --output_dir."
        )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        recover_folder(output_dir)  # what a killed save of the final model left beside the folder
        for stale in output_dir.glob(f".{CHECKPOINT_PREFIX}*"):  # checkpoints a kill left half-written
            shutil.rmtree(stale, ignore_errors=True)
        if overwrite and output_dir.is_dir():
            # The earlier run's checkpoints, logs and images go now; its model stays until the new one replaces it
            # whole at the end (a model of another kind included), so a failed run leaves it in place.
            for entry in output_dir.iterdir():
                if is_model_entry(entry):
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        if not output_dir.exists():
            _MADE_FOLDERS.append(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()


def remove_unused_output_dirs() -> None:
    """Remove the output folders this process made, where the run wrote no file into them (it failed first): a failed
    run leaves no empty folder behind, and never removes a file."""
    while _MADE_FOLDERS:
        folder = _MADE_FOLDERS.pop()
        if folder.is_dir() and not any(path.is_file() for path in folder.rglob("*")):
            shutil.rmtree(folder, ignore_errors=True)


def _saved_model_kind(output_dir: Path) -> str | None:
    """What a folder holds: a transformers model's `model_type` or a diffusers pipeline's class name."""
    for name, key in (("model_index.json", "_class_name"), ("config.json", "model_type")):
        path = output_dir / name
        if path.is_file():
            try:
                value = json.loads(path.read_text()).get(key)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                return "unreadable"
            return value[-1] if isinstance(value, list) else value
    return None


def start_tracking(accelerator: Accelerator, report_to: str, project_name: str, hparams: dict) -> None:
    """Start the experiment tracker with the run's flags as hyperparameters (call after the output folder check)."""
    if report_to == "none":
        return
    hparams = {k: (v if isinstance(v, _HPARAM_TYPES) else str(v)) for k, v in hparams.items() if v is not None}
    hparams.pop("hub_token", None)
    accelerator.init_trackers(project_name, config=hparams)
