"""DdpmPipeline sampling speed against diffusers' own DDPMPipeline, same UNet, same steps, same process.

The ratio: both pipelines sample with the same unconditional UNet (the trained one without its class embedding;
DDPMPipeline cannot pass class labels) and a 1000-step DDPMScheduler, unguided, at `--ratio_steps` steps; the bar
is a time ratio <= 1.05. Throughput: the class-conditional pipeline as users call it, guided at its default scale,
with DDPM at 1000 steps and DPM-Solver at 25. `--model` takes a trained pipeline folder; by default a freshly
initialized UNet of train_ddpm.py's default size is timed (speed does not depend on the weights).

    python benchmarks/bench_ddpm.py --model runs/mnist-ddpm --json bench_ddpm.json
"""

import argparse

import torch
from common import add_common_args, interleaved_medians, pick_device, reset_peak_memory, row, timed, write_rows
from diffusers import DDPMPipeline, DDPMScheduler, DPMSolverMultistepScheduler, UNet2DModel

from hfnets import DdpmPipeline

# The bar: our pipeline's time at most 1.05x DDPMPipeline's.
BAR = 1.05


def default_pipeline() -> DdpmPipeline:
    """A new UNet of scripts/train_ddpm.py's default shape (weights do not change the timing)."""
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=28,
        in_channels=1,
        out_channels=1,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        num_class_embeds=11,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000, prediction_type="v_prediction", thresholding=True, sample_max_value=1.0
    )
    return DdpmPipeline(unet.eval(), scheduler, image_size=28, guidance_scale=1.25)


def images_per_second(call, batch_size: int, repeats: int, device: torch.device, warm_up: bool = True) -> float:
    """Throughput of the median of `repeats` calls (after one warm-up call, unless told otherwise)."""
    if warm_up:
        call()
    times = sorted(timed(call, device) for _ in range(repeats))
    return batch_size / times[len(times) // 2]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="A saved DdpmPipeline folder (default: a new UNet).")
    parser.add_argument("--batch_size", type=int, default=16, help="Images per call for the ratio.")
    parser.add_argument("--ratio_steps", type=int, default=50, help="DDPM steps per call for the ratio.")
    parser.add_argument("--repeats", type=int, default=10, help="Timed calls of each; the medians count.")
    parser.add_argument("--skip_1000", action="store_true", help="Skip the (slow) 1000-step throughput.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.skip_1000 = 3, True
    device = pick_device(args.device)

    pipe = DdpmPipeline.from_pretrained(args.model) if args.model else default_pipeline()
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)

    # 1. The ratio: the same unconditional UNet and scheduler in both pipelines.
    unconditional = UNet2DModel.from_config({**pipe.unet.config, "num_class_embeds": None}).to(device).eval()
    unconditional.load_state_dict(pipe.unet.state_dict(), strict=False)  # all but the class embedding
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    ours = DdpmPipeline(unconditional, scheduler, image_size=pipe.config.image_size)
    peer = DDPMPipeline(unet=unconditional, scheduler=DDPMScheduler.from_config(pipe.scheduler.config))
    for each in (ours, peer):
        each.set_progress_bar_config(disable=True)
    batch, steps = args.batch_size, args.ratio_steps

    def run_peer() -> None:
        peer(batch_size=batch, num_inference_steps=steps, generator=torch.manual_seed(0), output_type="np")

    def run_ours() -> None:
        ours(batch_size=batch, num_inference_steps=steps, generator=torch.manual_seed(0), output_type="np")

    reset_peak_memory(device)
    peer_time, our_time = interleaved_medians(run_peer, run_ours, args.repeats, device)
    ratio = our_time / peer_time
    peer_name = "diffusers DDPMPipeline, same UNet and steps"
    rows = [
        row(
            "ddpm_pipeline_sampling",
            batch * steps / our_time,
            "image-steps/s",
            device,
            peer_name,
            ratio,
            BAR,
            "max",
            batch_size=batch,
        )
    ]
    print(f"DDPMPipeline        {batch * steps / peer_time:8,.0f} image-steps/s (batch {batch}, {steps} steps)")
    print(f"DdpmPipeline  {batch * steps / our_time:8,.0f} image-steps/s (same UNet, unguided)")
    print(f"time ratio {ratio:.3f} (bar <= {BAR}): {'holds' if ratio <= BAR else 'MISSED'}")

    # 2. Throughput as users sample: class-conditional, guided at the pipeline's default scale.
    guidance = pipe.config.guidance_scale
    fast = DdpmPipeline(
        pipe.unet,
        DPMSolverMultistepScheduler.from_config(pipe.scheduler.config),
        image_size=pipe.config.image_size,
        guidance_scale=guidance,
    )
    fast.set_progress_bar_config(disable=True)
    labels = [digit % pipe.num_classes for digit in range(100)] if pipe.num_classes else None
    throughput = {
        "dpm_solver_25": images_per_second(
            lambda: fast(class_labels=labels, batch_size=100, num_inference_steps=25, output_type="np"),
            100,
            1 if args.quick else 3,
            device,
        )
    }
    print(f"DPM-Solver, 25 steps, guidance {guidance}: {throughput['dpm_solver_25']:8.1f} images/s (batch 100)")
    if not args.skip_1000:
        # one call: 1000 steps are their own warm-up
        throughput["ddpm_1000"] = images_per_second(
            lambda: pipe(class_labels=labels[:10] if labels else None, batch_size=10, output_type="np"),
            10,
            1,
            device,
            warm_up=False,
        )
        print(f"DDPM, 1000 steps, guidance {guidance}:     {throughput['ddpm_1000']:8.1f} images/s (batch 10)")

    for name, value in throughput.items():
        rows.append(row(f"ddpm_{name}_guided", value, "images/s", device, guidance_scale=guidance))
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
