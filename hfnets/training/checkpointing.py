"""Atomic saving: resumable checkpoints, the final model folder and result files.

Every save is written to a hidden temporary sibling first and moved into place with `os.replace`, so a run killed
mid-save leaves the previous files intact and never a half-written checkpoint or weights file.
"""

import errno
import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from safetensors import SafetensorError

from ..atomic import publish_folder, recover_folder
from .results import check_finite_weights

logger = get_logger(__name__)

CHECKPOINT_PREFIX = "checkpoint-"
TRAINING_STATE_FILE = "training_state.json"
_CHECKPOINT_PATTERN = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoint folders in `output_dir`, oldest (lowest step) first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT_PATTERN.match(p.name))
    ]
    return [path for _, path in sorted(found)]


def save_checkpoint(
    accelerator: Accelerator,
    output_dir: str | Path,
    step: int,
    model_config=None,
    total_limit: int | None = None,
    batching: dict | None = None,
    train_runtime: float | None = None,
    models: list | None = None,
) -> Path:
    """Save model, optimizer, scheduler, RNG and dataloader state to `<output_dir>/checkpoint-<step>` (all ranks).

    `models`, where given, are checked first: weights that became NaN or infinite (a run that diverged) stop the run
    with that reason instead of being saved as a checkpoint to resume from.

    `batching` (processes, batch size, accumulation, examples) is recorded so that a resume with other values, which
    would map the step to other batches and silently train a different run, is refused. `train_runtime`, the
    seconds spent training so far, carries on in a resumed run so that its card reports the whole training time.
    """
    if models:
        check_finite_weights(accelerator, models, step)
    output_dir = Path(output_dir)
    final = output_dir / f"{CHECKPOINT_PREFIX}{step}"
    staging = output_dir / f".{CHECKPOINT_PREFIX}{step}.tmp"
    if accelerator.is_main_process and staging.exists():
        shutil.rmtree(staging)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(staging))  # every rank writes its own RNG state into the same folder
    except (OSError, RuntimeError, SafetensorError) as error:  # a full disk: torch.save's "iostream error" too
        shutil.rmtree(staging, ignore_errors=True)
        free = shutil.disk_usage(output_dir).free
        raise OSError(
            f"Could not save checkpoint {final} ({type(error).__name__}: {error}); {free / 2**20:.0f} MiB are free "
            f"on its disk. The partial checkpoint was removed and earlier ones are intact: free some space (or "
            "lower --checkpoints_total_limit) and resume with --resume_from_checkpoint latest."
        ) from error
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / TRAINING_STATE_FILE).write_text(
            json.dumps({"step": step, "batching": batching, "train_runtime": train_runtime})
        )
        if model_config is not None:
            (staging / "config.json").write_text(json.dumps(_config_dict(model_config), indent=2, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        if total_limit is not None:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
        logger.info(f"Saved checkpoint {final}")
    accelerator.wait_for_everyone()
    return final


def resolve_checkpoint(output_dir: str | Path, resume_from_checkpoint: str) -> Path:
    """`latest` -> the newest complete checkpoint in `output_dir`; a path -> that path, checked."""
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        if not checkpoints:
            raise ValueError(
                f"--resume_from_checkpoint latest: {output_dir} holds no checkpoint-N folder to resume from. "
                "Train with --checkpointing_steps to write checkpoints, or drop --resume_from_checkpoint."
            )
        return checkpoints[-1]
    path = Path(resume_from_checkpoint)
    if not (path / TRAINING_STATE_FILE).is_file():
        raise ValueError(
            f"{path} is not a complete hfnets checkpoint (no {TRAINING_STATE_FILE}). Pass a checkpoint-N folder "
            "written by --checkpointing_steps, or 'latest'."
        )
    return path


def load_checkpoint(
    accelerator: Accelerator, checkpoint: Path, model_config=None, batching: dict | None = None
) -> int:
    """Restore the state saved by `save_checkpoint` into the prepared objects; return the optimizer step reached."""
    try:
        state = json.loads((checkpoint / TRAINING_STATE_FILE).read_text())
        step = int(state["step"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Checkpoint {checkpoint} is incomplete or corrupt ({error}); resume from another one."
        ) from error
    saved_batching = state.get("batching")
    if batching is not None and saved_batching is not None:
        # what both record (checkpoints of scripts without gradient accumulation once left it out: it was 1)
        saved_batching = {key: value for key, value in saved_batching.items() if key in batching}
        batching = {key: value for key, value in batching.items() if key in saved_batching}
    if batching is not None and saved_batching is not None and saved_batching != batching:
        raise ValueError(
            f"Checkpoint {checkpoint} was saved with {saved_batching}, this run has {batching}. Resuming with other "
            "processes, batch sizes or data would not continue the same run: use the same flags and launch "
            "configuration, or start over with --overwrite_output_dir."
        )
    saved_config = checkpoint / "config.json"
    if model_config is not None and saved_config.is_file():
        saved = json.loads(saved_config.read_text())
        if hasattr(model_config, "from_dict"):  # a transformers config: normalize the saved values the same way
            saved = _config_dict(type(model_config).from_dict(saved))
        _check_same_architecture(saved, _config_dict(model_config), checkpoint)
    try:
        accelerator.load_state(str(checkpoint))
    except Exception as error:  # safetensors, pickle and shape errors all mean the same thing to the user
        raise ValueError(
            f"Could not restore checkpoint {checkpoint}: {type(error).__name__}: {error}\n"
            "The checkpoint is corrupt, truncated or from a different model. Delete it and resume from an earlier "
            "one (--resume_from_checkpoint <output_dir>/checkpoint-N), or start over with --overwrite_output_dir."
        ) from error
    logger.info(f"Resumed from checkpoint {checkpoint} at step {step}")
    return step


@dataclass
class ResumePoint:
    """Where a run continues: after `completed_steps` optimizer steps, in `starting_epoch`, `batches_to_skip` into
    it (for `accelerator.skip_first_batches`), having trained `train_runtime` seconds so far (all 0 when new)."""

    completed_steps: int = 0
    starting_epoch: int = 0
    batches_to_skip: int = 0
    train_runtime: float = 0.0


def resume_run(
    accelerator: Accelerator,
    resume_from_checkpoint: str | None,
    models: list,
    batching: dict,
    num_update_steps_per_epoch: int | None,
) -> tuple[ResumePoint, Callable[..., Path]]:
    """The resume step every training script shares, called after `accelerator.prepare`.

    Restores `resume_from_checkpoint` (a folder or "latest" under the accelerator's project folder; None starts anew)
    after checking that it was saved by the same model configuration (that of the first of `models`) and batching
    (the script's `batching`, such as the batch size and how many samples an epoch has, with the accelerator's
    processes and gradient accumulation steps), and returns where training continues with the run's `checkpoint`
    function: `checkpoint(step, train_runtime=seconds)` saves the model, optimizer, schedule, RNG and data position
    (with the configuration and the batching, so that a later resume is checked the same way) under the project
    folder, keeping the project configuration's `total_limit`, after checking that the weights of `models` are finite.
    `num_update_steps_per_epoch` None is a streamed dataset: one pass, which resumes from the position it saves with
    the checkpoint (`register_for_checkpointing`), so no epoch to start in and no batches to skip.
    """
    output_dir = accelerator.project_dir
    if output_dir is None:
        raise ValueError(
            "resume_run needs the run's folder: build the Accelerator with "
            "`project_config=ProjectConfiguration(output_dir)`."
        )
    model_config = accelerator.unwrap_model(models[0]).config if models else None
    gradient_accumulation_steps = accelerator.gradient_accumulation_steps
    batching = {
        "num_processes": accelerator.num_processes,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        **batching,
    }
    point = ResumePoint()
    if resume_from_checkpoint is not None:
        checkpoint = resolve_checkpoint(output_dir, resume_from_checkpoint)
        point.completed_steps = load_checkpoint(accelerator, checkpoint, model_config, batching)
        state = json.loads((checkpoint / TRAINING_STATE_FILE).read_text())
        point.train_runtime = float(state.get("train_runtime") or 0.0)
    if num_update_steps_per_epoch is not None:  # None: a stream, which resumes from its own saved position
        point.starting_epoch, steps_into_epoch = divmod(point.completed_steps, num_update_steps_per_epoch)
        point.batches_to_skip = steps_into_epoch * gradient_accumulation_steps
    save = functools.partial(
        save_checkpoint,
        accelerator,
        output_dir,
        model_config=model_config,
        total_limit=accelerator.project_configuration.total_limit,
        batching=batching,
        models=models,
    )
    return point, save


def _make_public(folder: Path) -> None:
    """Temporary folders are private (0700): give a staged folder tree the usual permissions before moving it."""
    mask = os.umask(0)
    os.umask(mask)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def _config_dict(model_config) -> dict:
    """A transformers config or a diffusers FrozenDict config as JSON-able values."""
    values = model_config.to_dict() if hasattr(model_config, "to_dict") else dict(model_config)
    return json.loads(json.dumps(values, default=str))


def _check_same_architecture(saved: dict, current: dict, checkpoint: Path) -> None:
    # Bookkeeping, not architecture: versions, names, and the private keys ("_use_default_values", "_class_name",
    # ...) that diffusers keeps in its configs.
    ignored = {"transformers_version", "architectures", "auto_map", "dtype", "torch_dtype"}
    different = sorted(
        k
        for k in saved.keys() | current.keys()
        if k not in ignored and not k.startswith("_") and saved.get(k) != current.get(k)
    )
    if different:
        details = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in different)
        raise ValueError(
            f"Checkpoint {checkpoint} was saved by a different model configuration ({details}). Resume with the "
            "same model flags, or start over with --overwrite_output_dir."
        )


# What a saved model is made of: everything else in an output folder (checkpoints, logs, sample images, results, the
# card) is the run's own and stays when the model is replaced.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".py", ".msgpack", ".h5")
MODEL_FILE_NAMES = frozenset(
    {
        "config.json",
        "model_index.json",
        "generation_config.json",
        "preprocessor_config.json",
        "processor_config.json",
        "scheduler_config.json",
        "tokenizer_config.json",
        "tokenizer.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "model.safetensors.index.json",
    }
)


def is_model_entry(path: Path) -> bool:
    """Whether a file or folder in an output folder belongs to a saved model (weights, configs, code, components)."""
    if path.is_dir():
        if _CHECKPOINT_PATTERN.match(path.name):
            return False
        return any((path / name).is_file() for name in ("config.json", "scheduler_config.json", "model_index.json"))
    return path.name in MODEL_FILE_NAMES or path.suffix in MODEL_FILE_SUFFIXES


def savable(model, state_dict: dict | None):
    """(what `save_pretrained` is called on, its keyword arguments). PyTorch FSDP2's `fully_shard` turns a model's
    class into a subclass of it defined in torch (`FSDP<Name>`): saved as it is, a folder would carry torch's FSDP
    modules as the model's code (and fail to load). A sharded model is saved as an instance of its own class made on
    the meta device and given the gathered `state_dict`'s tensors (assigned, not copied), its tied weights tied."""
    extra = {} if state_dict is None else {"state_dict": state_dict}
    try:
        from torch.distributed.fsdp import FSDPModule
    except ImportError:  # a torch without FSDP2
        return model, extra
    if not isinstance(model, FSDPModule) or state_dict is None:
        return model, extra
    own_class = next(cls for cls in type(model).__mro__ if not issubclass(cls, FSDPModule))
    with torch.device("meta"):
        plain = own_class(model.config)
    plain.load_state_dict(state_dict, assign=True, strict=False)  # a tied weight may be given once
    plain.tie_weights()
    missing = [name for name, tensor in plain.state_dict().items() if tensor.is_meta]
    if missing:
        raise ValueError(f"The gathered weights lack {missing[:5]}: the sharded model cannot be saved whole.")
    if getattr(model, "generation_config", None) is not None:
        plain.generation_config = model.generation_config
    return plain, {}


def save_pretrained_atomically(
    output_dir: str | Path, *components, state_dict: dict | None = None, files: dict | None = None
) -> None:
    """`save_pretrained` each component (model, processor, pipeline, ...) into `output_dir`, replacing the model there.

    `state_dict`, when given, is what the first component (a model) saves: the full weights gathered from a
    sharded (FSDP) model by `accelerate.get_state_dict`. `files` ({name: text or bytes}) are written beside it in
    the same swap, so that the run's card and results never describe another model than the one beside them; a
    name mapped to None leaves out an earlier run's file of that name.

    The new folder is built beside `output_dir` (the run's checkpoints, logs and results hard-linked in, the earlier
    model's files left out) and swapped in whole (`hfnets.atomic.publish_folder`): whenever the process is killed,
    `output_dir` holds the complete earlier model or the complete new one, never a mix of the two, and never files
    of another kind of model. Leftovers of a killed save are removed by the next save (`recover_folder`). A full disk
    is an `OSError` naming the folder, with the staging copy removed.
    """
    output_dir = Path(os.path.abspath(output_dir))  # "." or "runs/.." has no name to stage a sibling under
    check_replaceable(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(output_dir)
    staging = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.save-"))
    try:
        for index, component in enumerate(components):
            component, extra = savable(component, state_dict) if index == 0 else (component, {})
            component.save_pretrained(staging, **extra)
        for name, content in (files or {}).items():
            if content is not None:
                path = staging / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content.encode() if isinstance(content, str) else content)
        written = {entry.name for entry in staging.iterdir()} | set(files or {})
        if output_dir.is_dir():
            for entry in output_dir.iterdir():
                if entry.name in written or entry.name.startswith(".") or is_model_entry(entry):
                    continue
                if entry.is_dir():
                    shutil.copytree(entry, staging / entry.name, copy_function=os.link, symlinks=True)
                else:
                    os.link(entry, staging / entry.name, follow_symlinks=False)
        _make_public(staging)
        publish_folder(staging, output_dir)
    except BaseException as error:  # a kill (KeyboardInterrupt) included: leave nothing half-written behind
        shutil.rmtree(staging, ignore_errors=True)
        full = isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
        if full or (isinstance(error, SafetensorError) and "No space" in str(error)):  # safetensors' own wording
            raise OSError(
                errno.ENOSPC,
                f"No space left to save the model into {output_dir}: it still holds what it held before. Free some "
                f"disk space (or choose another --output_dir) and save again",
                str(output_dir),
            ) from error
        if isinstance(error, SafetensorError):  # a write that failed otherwise: said as a disk error, not a crash
            raise OSError(
                f"Could not write the model into {output_dir} ({error}): it still holds what it held before. Check "
                "the disk and save again."
            ) from error
        raise


def check_replaceable(output_dir: str | Path) -> None:
    """Refuse an output folder that is (or holds) the current folder: saves replace the folder as a whole."""
    if Path.cwd().is_relative_to(os.path.abspath(output_dir)):
        raise ValueError(
            f"Cannot use {output_dir} as the output folder: it is (or holds) the current folder, and the saved model "
            "replaces the output folder as a whole. Give a subfolder, e.g. --output_dir runs/my-model."
        )
