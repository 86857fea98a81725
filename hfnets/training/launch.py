"""Accelerator set-up shared by the training scripts: logging, seeding, trackers and the output folder."""

import gc
import json
import logging
import math
import os
import platform
import shutil
import sys
from pathlib import Path

import datasets
import torch
import transformers
from accelerate import Accelerator, DataLoaderConfiguration, DistributedType
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin, set_seed
from transformers import get_scheduler

from ..atomic import recover_folder
from .checkpointing import CHECKPOINT_PREFIX, check_replaceable, is_model_entry, list_checkpoints

logger = get_logger(__name__)

# Values the tensorboard tracker accepts as hyperparameters; others are logged as strings.
_HPARAM_TYPES = (int, float, str, bool)


def build_accelerator(
    output_dir: str | Path,
    seed: int,
    mixed_precision: str = "auto",
    gradient_accumulation_steps: int = 1,
    report_to: str = "none",
    torch_compile: bool = False,
    tf32: bool = True,
) -> Accelerator:
    """Create the Accelerator, set up logging on every process and seed everything.

    `torch_compile` hands the model to `torch.compile` (inductor) in `accelerator.prepare`, after any DDP wrapping,
    as accelerate's dynamo plugin does; without it, `accelerate launch --dynamo_backend` still decides. On CUDA,
    float32 matrix products use TF32 unless `tf32=False`.
    """
    dynamo = {"dynamo_plugin": TorchDynamoPlugin(backend="inductor")} if torch_compile else {}
    accelerator = Accelerator(
        gradient_accumulation_steps=gradient_accumulation_steps,
        mixed_precision=resolve_mixed_precision(mixed_precision),
        **dynamo,
        log_with=None if report_to == "none" else report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(Path(output_dir, "runs"))),
        # Shuffling seeded by (seed, epoch) rather than by the global RNG's state at the start of each epoch, so a
        # run resumed mid-epoch sees the same order as an uninterrupted one.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=seed),
    )
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%m/%d/%Y %H:%M:%S", level=logging.INFO
    )
    logger.info(accelerator.state, main_process_only=False)
    if accelerator.is_local_main_process:
        datasets.utils.logging.set_verbosity_warning()
        transformers.utils.logging.set_verbosity_warning()
    else:
        datasets.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()
    if accelerator.device.type == "cuda" and tf32:
        torch.set_float32_matmul_precision("high")  # TF32 on Ampere and newer: ~8x the float32 matmul throughput
    set_seed(seed)
    return accelerator


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere torch emulates it, slowly."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _will_use_cpu() -> bool:
    cpu_requested = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return cpu_requested or not (torch.cuda.is_available() or _mps_available())


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_mixed_precision(requested: str | None) -> str:
    """The mixed precision a run uses: `--mixed_precision`, with "auto" resolved to the launcher's choice, else to
    what the hardware runs natively (bf16 on CUDA GPUs that support it and on CPUs with AVX512-BF16 or AMX, float32
    elsewhere). An explicit bf16 on a CPU that would emulate it is kept, with a warning."""
    on_cpu = _will_use_cpu()
    if requested in (None, "auto"):
        launcher = os.environ.get("ACCELERATE_MIXED_PRECISION", "no")  # `accelerate launch` writes "no" by default
        if launcher != "no":
            requested = launcher
        elif on_cpu:
            requested = "bf16" if cpu_has_native_bf16() else "no"
        elif torch.cuda.is_available():
            requested = "bf16" if torch.cuda.is_bf16_supported() else "no"
        else:
            requested = "no"
    if requested == "bf16" and on_cpu and not cpu_has_native_bf16():
        logging.getLogger(__name__).warning(
            "bf16 mixed precision on a CPU without native bf16 (no AVX512-BF16 or AMX): torch emulates it, and "
            "training runs several times slower than in float32 (measured 6.8x for the DDPM's step, see "
            "docs/training.md). Pass --mixed_precision no (or auto) for float32."
        )
    return requested


def device_synchronize(accelerator: Accelerator) -> None:
    """Wait for the work queued on the accelerator, so that a timer read next includes it (no-op on CPU)."""
    if accelerator.device.type == "cuda":
        torch.cuda.synchronize(accelerator.device)


def unwrap(accelerator: Accelerator, model: torch.nn.Module) -> torch.nn.Module:
    """The bare model behind DDP/FSDP wrappers and `torch.compile`: what is saved, averaged and sampled from."""
    return accelerator.unwrap_model(model, keep_torch_compile=False)


def build_optimizer(
    accelerator: Accelerator, params, optimizer_class=torch.optim.AdamW, **kwargs
) -> torch.optim.Optimizer:
    """`optimizer_class` (AdamW, Adam, ...) with PyTorch's fused kernel on CUDA (one launch for all parameters), its
    default elsewhere."""
    if accelerator.device.type == "cuda":
        kwargs["fused"] = True
    return optimizer_class(params, **kwargs)


def weights_are_sharded(accelerator: Accelerator) -> bool:
    """FSDP, or DeepSpeed ZeRO-3: each process holds a slice of the weights rather than a copy."""
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    plugin = accelerator.state.deepspeed_plugin
    return accelerator.distributed_type == DistributedType.DEEPSPEED and plugin is not None and plugin.zero_stage == 3


def require_replicated_weights(accelerator: Accelerator, script: str) -> None:
    """Refuse FSDP and DeepSpeed for scripts whose small networks are meant to be replicated (DDP)."""
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        raise ValueError(
            f"{script} trains networks small enough to copy to every device: launch it with data parallelism "
            "(accelerate launch --config_file scripts/accelerate/multi_gpu.yaml, or --multi_gpu) rather than "
            f"{accelerator.distributed_type.value}. FSDP and DeepSpeed are for scripts/train_gpt.py."
        )


def replicas_in_sync(model: torch.nn.Module, accelerator: Accelerator) -> bool | None:
    """True when every process holds bit-identical weights (what data-parallel training promises); None when the
    weights are sharded (FSDP, ZeRO-3), where there are no replicas to compare."""
    if weights_are_sharded(accelerator):
        return None
    weights = torch.cat([p.detach().float().flatten() for p in unwrap(accelerator, model).parameters()])
    # Position-weighted sums: equal across ranks only if the weights are, up to astronomically unlikely collisions.
    positions = torch.arange(1, len(weights) + 1, device=weights.device, dtype=torch.float64)
    fingerprint = torch.stack([weights.double().sum(), (weights.double() * positions.sqrt()).sum()])
    gathered = accelerator.gather(fingerprint[None]).view(-1, 2)
    return bool((gathered == gathered[0]).all())


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
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()


def training_length(
    num_batches: int, gradient_accumulation_steps: int, max_train_steps: int | None, num_train_epochs: int
) -> tuple[int, int, int]:
    """`(num_update_steps_per_epoch, max_train_steps, num_train_epochs)` of a run over `num_batches` batches per
    epoch (of the *prepared*, sharded dataloader): --max_train_steps when given, else whole epochs."""
    num_update_steps_per_epoch = math.ceil(num_batches / gradient_accumulation_steps)
    max_train_steps = max_train_steps or num_train_epochs * num_update_steps_per_epoch
    return num_update_steps_per_epoch, max_train_steps, math.ceil(max_train_steps / num_update_steps_per_epoch)


def build_lr_scheduler(
    accelerator: Accelerator,
    optimizer,
    lr_scheduler_type: str,
    num_warmup_steps: int,
    max_train_steps: int,
    **kwargs,
):
    """The learning-rate schedule (transformers.get_scheduler) over `max_train_steps` optimizer steps, prepared.

    Accelerate steps it once per process for each optimizer step, hence the `num_processes` factors. `kwargs` go to
    the scheduler (`min_lr` for `cosine_with_min_lr`).
    """
    lr_scheduler = get_scheduler(
        lr_scheduler_type,
        optimizer=optimizer,
        num_warmup_steps=num_warmup_steps * accelerator.num_processes,
        num_training_steps=max_train_steps * accelerator.num_processes,
        scheduler_specific_kwargs=kwargs,
    )
    return accelerator.prepare(lr_scheduler)


def describe_hardware(accelerator: Accelerator) -> str:
    """What a model card says the run trained on."""
    if accelerator.device.type == "cuda":
        return f"{accelerator.num_processes} x {torch.cuda.get_device_name()}"
    threads = torch.get_num_threads()
    bf16 = "native bf16" if cpu_has_native_bf16() else "no native bf16"
    return (
        f"{accelerator.num_processes} CPU process(es), {threads} thread(s) each, {cpu_model_name()} "
        f"({platform.machine()}, {bf16})"
    )


def cpu_model_name() -> str:
    """The CPU's marketing name where the OS tells it (Linux: /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def global_batch_rows(accelerator: Accelerator, local_size: int) -> tuple[int, slice]:
    """`(global_size, rows)`: draw random noise, timesteps or labels for the whole global batch, keep `[rows]`.

    Every process seeds the global RNG alike; drawing for all `num_processes x local_size` rows keeps the streams
    in step, and each process takes its own rows. So N processes at batch B use the very draws that one process at
    batch N x B uses: a run's result does not depend on how many devices it was spread over. With one process it
    is the plain draw for the batch.
    """
    start = accelerator.process_index * local_size
    return accelerator.num_processes * local_size, slice(start, start + local_size)


def run_main(main) -> None:
    """Run a training script's `main()` as a command: a user error (bad flags, data, folders or disk: `ValueError`,
    `OSError`) is one line on stderr and exit code 2, not a traceback. `HFNETS_DEBUG=1` shows the traceback.

    The process group of a multi-process run ends here, once `main()` has returned: its locals, the DDP-wrapped
    models among them, are gone by then. Ended inside `main()`, the wrappers would outlive the group and be torn down
    after it, which can leave a rank waiting forever at exit for a peer that has left."""
    try:
        main()
    except (ValueError, OSError) as error:
        if os.environ.get("HFNETS_DEBUG"):
            raise
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(2)
    gc.collect()  # anything of main() that a reference cycle kept alive goes now, while the group still exists
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@torch.no_grad()
def evaluate_classifier(model, dataloader, accelerator, num_labels: int) -> dict[str, float]:
    """Accuracy and mean loss of an image classifier over the whole evaluation split, each example counted once
    across processes (the MLP's and the CNN's scripts)."""
    from torchmetrics.classification import MulticlassAccuracy

    model.eval()
    accuracy = MulticlassAccuracy(num_classes=num_labels, average="micro").to(accelerator.device)
    loss_sum = torch.zeros((), device=accelerator.device)
    count = 0
    for batch in dataloader:
        logits = model(pixel_values=batch["pixel_values"]).logits.float()
        logits, labels = accelerator.gather_for_metrics((logits, batch["labels"]))
        accuracy.update(logits, labels)
        loss_sum += torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
        count += len(labels)
    model.train()
    return {"eval_accuracy": accuracy.compute().item(), "eval_loss": loss_sum.item() / count, "eval_samples": count}


def end_run(accelerator: Accelerator, *prepared) -> None:
    """The end every script shares, on every process: wait for the others, drop the accelerator's own references to
    the `prepared` models and optimizers, and end the trackers. The process group is left to `run_main`, which ends it
    after `main()` has returned and freed the DDP wrappers it still holds."""
    accelerator.wait_for_everyone()
    accelerator.free_memory(*prepared)
    for tracker in accelerator.trackers:
        tracker.finish()


def run_results(
    accelerator: Accelerator,
    models: list[torch.nn.Module],
    metrics: dict,
    step: int,
    train_runtime: float,
    counted: tuple[str, int, float] | None = None,
    **extra,
) -> dict:
    """What every script reports at the end (its `results.json`): the last `metrics`, the step, the seconds in the
    training loop, the processes and whether their weights agree at the end, the precision, then `extra`.
    `counted=(unit, count, seconds)`: this process counted `count` samples or tokens in `seconds` of this launch;
    reported summed over the processes, as `train_<unit>` and `train_<unit>_per_second`."""
    in_sync = None
    for model in models:
        agree = replicas_in_sync(model, accelerator)
        in_sync = agree if in_sync is None else (in_sync and agree)
    if in_sync is False:
        logger.warning("The processes ended with different weights: data-parallel training did not synchronize.")
    results = {**metrics, "step": step, "train_runtime": round(train_runtime, 3)}
    if counted is not None:
        unit, count, seconds = counted
        total = accelerator.reduce(torch.tensor(count, device=accelerator.device), "sum").item()
        results[f"train_{unit}"] = total
        results[f"train_{unit}_per_second"] = round(total / seconds, 1) if seconds > 0 else None
    results.update(world_size=accelerator.num_processes, replicas_in_sync=in_sync)
    results["mixed_precision"] = accelerator.mixed_precision
    return {**results, **extra}
