"""The run's Accelerator and what goes with it: the mixed precision a run uses (by the hardware), logging and seeds on
every process, and the questions scripts ask of it (is the model wrapped, are the weights sharded, which rows of a
global batch are this process's)."""

import logging
import os

import torch
from accelerate import Accelerator, DistributedType
from accelerate.logging import get_logger
from accelerate.utils import set_seed

logger = get_logger(__name__)


def set_up_run(accelerator: Accelerator, seed: int, tf32: bool = True) -> None:
    """What every script does right after building its Accelerator: logging on every process (warnings only from the
    libraries, errors only on the other processes), TF32 matrix products on CUDA unless `tf32=False`, and every RNG
    seeded (so call it before building a model)."""
    import datasets
    import transformers

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


def weights_are_sharded(accelerator: Accelerator) -> bool:
    """FSDP, or DeepSpeed ZeRO-3: each process holds a slice of the weights rather than a copy."""
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    plugin = accelerator.state.deepspeed_plugin
    return accelerator.distributed_type == DistributedType.DEEPSPEED and plugin is not None and plugin.zero_stage == 3


# What `accelerate launch` sets when its configuration asks for a sharding engine.
REQUESTED_ENGINES = {
    "ACCELERATE_USE_FSDP": DistributedType.FSDP,
    "ACCELERATE_USE_DEEPSPEED": DistributedType.DEEPSPEED,
}


def engine_not_running(accelerator: Accelerator) -> str | None:
    """What was asked for and what runs, where the launch configuration asks for FSDP or DeepSpeed and accelerate
    runs something else (it sets them up on GPUs and other accelerators only: on CPUs it quietly runs plain data
    parallelism, every process holding the whole model); None where it runs what was asked."""
    for variable, engine in REQUESTED_ENGINES.items():
        if os.environ.get(variable, "false").lower() == "true" and accelerator.distributed_type != engine:
            runs = accelerator.distributed_type.value
            return (
                f"The launch configuration asks for {engine.value} ({variable}), but accelerate runs {runs} on "
                f"{accelerator.num_processes} process(es) on {accelerator.device.type}: it sets {engine.value} up on "
                "GPUs only, so here every process holds the whole model and the weights are not sharded."
            )
    return None


def check_distributed(accelerator: Accelerator, script: str, sharded_weights: bool) -> None:
    """Refuse FSDP and DeepSpeed for a `script` whose small networks are meant to be replicated (DDP), unless it
    supports `sharded_weights`; say so plainly where the launch asked for one that accelerate does not run."""
    not_running = engine_not_running(accelerator)
    if not_running:
        logger.warning(not_running, main_process_only=True)
    if not sharded_weights and accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        raise ValueError(
            f"{script} trains networks small enough to copy to every device: launch it with data parallelism "
            "(accelerate launch --config_file scripts/accelerate/multi_gpu.yaml, or --multi_gpu) rather than "
            f"{accelerator.distributed_type.value}. FSDP and DeepSpeed are for scripts/train_gpt.py."
        )


def global_batch_rows(accelerator: Accelerator, local_size: int) -> tuple[int, slice]:
    """`(global_size, rows)`: draw random noise, timesteps or labels for the whole global batch, keep `[rows]`.

    Every process seeds the global RNG alike; drawing for all `num_processes x local_size` rows keeps the streams
    in step, and each process takes its own rows. So N processes at batch B use the very draws that one process at
    batch N x B uses: a run's result does not depend on how many devices it was spread over. With one process it
    is the plain draw for the batch.
    """
    start = accelerator.process_index * local_size
    return accelerator.num_processes * local_size, slice(start, start + local_size)
