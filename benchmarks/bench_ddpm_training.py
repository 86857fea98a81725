"""Training-step time of UNet2DModel variants for MNIST on this machine: sizes, bf16 autocast, channels_last and
torch.compile, each as a ratio against the default recipe's fp32 step, same batch, same process.

This is how train_ddpm.py's default (widths 32,64, two ResNet layers per block, no attention below the bottleneck,
28x28, bf16 autocast) was chosen for a 90-minute CPU budget.

`--quick` times the first two variants only (the fp32 peer and the default).

    python benchmarks/bench_ddpm_training.py --json bench_ddpm_training.json
"""

import argparse
import statistics

import torch
from common import add_common_args, pick_device, reset_peak_memory, row, timed, write_rows
from diffusers import UNet2DModel
from torch.nn import functional as F

# (name, widths, layers per block, attention on the lowest level, bf16 autocast, channels_last, torch.compile)
VARIANTS = [
    ("32,64 x2 fp32 (peer)", (32, 64), 2, False, False, False, False),
    ("32,64 x2 bf16 (default)", (32, 64), 2, False, True, False, False),
    ("32,64 x2 fp32 channels_last", (32, 64), 2, False, False, True, False),
    ("32,64 x2 bf16 channels_last", (32, 64), 2, False, True, True, False),
    ("32,64 x2 bf16 torch.compile", (32, 64), 2, False, True, False, True),
    ("32,64 x1 bf16", (32, 64), 1, False, True, False, False),
    ("32,64 x2 bf16 + attention at 14x14", (32, 64), 2, True, True, False, False),
    ("48,96 x2 bf16", (48, 96), 2, False, True, False, False),
    ("64,128 x2 bf16", (64, 128), 2, False, True, False, False),
]


def build(widths, layers: int, attention: bool) -> UNet2DModel:
    down = ["DownBlock2D"] * len(widths)
    up = ["UpBlock2D"] * len(widths)
    if attention:  # the last down and first up blocks, at 14x14 (the 14x14 middle block always has attention)
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=28,
        in_channels=1,
        out_channels=1,
        block_out_channels=widths,
        layers_per_block=layers,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=8,
        attention_head_dim=32 if attention else None,
        num_class_embeds=11,
    )


def step_time(variant, batch_size: int, steps: int, device: torch.device) -> float:
    """Median seconds of a training step (forward, MSE loss, backward, AdamW) after two warm-up steps."""
    _, widths, layers, attention, bf16, channels_last, compile_ = variant
    torch.manual_seed(0)
    unet = build(widths, layers, attention).to(device)
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3, **fused)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    unet = unet.to(memory_format=memory_format)
    forward = torch.compile(unet) if compile_ else unet
    images = torch.randn(batch_size, 1, 28, 28, device=device).to(memory_format=memory_format)
    timesteps = torch.randint(0, 1000, (batch_size,), device=device)
    labels = torch.randint(0, 11, (batch_size,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            prediction = forward(images, timesteps, class_labels=labels).sample
        loss = F.mse_loss(prediction.float(), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    times = [timed(step, device) for _ in range(steps + 2)]
    return statistics.median(times[2:])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch_size", type=int, default=128, help="Images per step.")
    parser.add_argument("--steps", type=int, default=6, help="Timed steps per variant; the median counts.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    variants = VARIANTS[:2] if args.quick else VARIANTS
    if args.quick:
        args.steps = 3
    device = pick_device(args.device)

    rows, peer = [], None
    print(f"{'variant':38} {'s/step':>7} {'images/s':>9} {'time vs peer':>12}  (batch {args.batch_size})")
    for variant in variants:
        reset_peak_memory(device)
        seconds = step_time(variant, args.batch_size, args.steps, device)
        peer = peer or seconds
        print(f"{variant[0]:38} {seconds:7.3f} {args.batch_size / seconds:9.1f} {seconds / peer:12.2f}")
        rows.append(
            row(
                f"ddpm_train_step[{variant[0]}]",
                args.batch_size / seconds,
                "images/s",
                device,
                None if variant is VARIANTS[0] else VARIANTS[0][0],
                None if variant is VARIANTS[0] else peer / seconds,
                batch_size=args.batch_size,
            )
        )
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
