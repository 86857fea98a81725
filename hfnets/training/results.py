"""What a run measures and reports: a classifier's evaluation, the results every script writes (`all_results.json`),
and the hardware a card names."""

import math
import platform
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger

from .accelerator import cpu_has_native_bf16, unwrap, weights_are_sharded

logger = get_logger(__name__)


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


def language_model_metrics(loss_sum: torch.Tensor, count: int) -> dict[str, float]:
    """The evaluation metrics of a language model from its summed next-token loss over `count` tokens."""
    eval_loss = (loss_sum / count).item()
    return {"eval_loss": eval_loss, "perplexity": math.exp(eval_loss), "eval_tokens": count}


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
    check_finite_weights(accelerator, models, step)
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


def check_finite_weights(accelerator: Accelerator, models: list[torch.nn.Module], step: int) -> None:
    """Stop a run whose weights hold NaN or infinite values (training diverged) before anything is saved: a
    ValueError on every process alike (each checks its own weights; the verdict is summed across them)."""
    finite = [
        # a sharded weight (FSDP2's DTensor) is checked through its own shard: each process checks what it holds
        torch.isfinite(local_part(parameter.detach())).all()
        for model in models
        for parameter in unwrap(accelerator, model).parameters()
    ]
    broken = (~torch.stack(finite)).sum().float().to(accelerator.device)  # summed on the device: one sync below
    broken = accelerator.reduce(broken, "sum").item()
    if broken:
        raise ValueError(
            f"Training diverged: after {step} steps the weights hold NaN or infinite values, so nothing was saved. "
            "Lower --learning_rate (or use --mixed_precision no), and start over or resume from a checkpoint taken "
            "before it diverged."
        )


def local_part(tensor: torch.Tensor) -> torch.Tensor:
    """This process's shard of a sharded tensor (a DTensor, as FSDP2 holds weights), else the tensor itself."""
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


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
