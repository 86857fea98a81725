"""The optimizer and the learning-rate schedule, and how long a run is in optimizer steps."""

import math

import torch
from accelerate import Accelerator
from transformers import get_scheduler


def build_optimizer(
    accelerator: Accelerator, params, optimizer_class=torch.optim.AdamW, **kwargs
) -> torch.optim.Optimizer:
    """`optimizer_class` (AdamW, Adam, ...) with PyTorch's fused kernel on CUDA (one launch for all parameters), its
    default elsewhere."""
    if accelerator.device.type == "cuda":
        kwargs["fused"] = True
    return optimizer_class(params, **kwargs)


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
