"""GanPipeline sampling speed against calling its generator network directly, same batch, same process.

The pipeline adds argument checks, noise creation, the [-1, 1] -> [0, 1] conversion and output formatting; the bar
is that all this costs at most 10% (ratio of times <= 1.1). `--model` takes a trained pipeline folder; by default a
freshly initialized generator of the default size is timed (speed does not depend on the weights).

    python benchmarks/bench_gan.py --json bench_gan.json
"""

import argparse

import torch
from common import add_common_args, interleaved_medians, pick_device, reset_peak_memory, row, write_rows

from hfnets import GanGenerator, GanPipeline

# The bar: the pipeline's time at most 1.1x the bare generator's.
BAR = 1.1


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="A saved GanPipeline folder (default: a new generator).")
    parser.add_argument("--batch_size", type=int, default=256, help="Images per call.")
    parser.add_argument("--repeats", type=int, default=100, help="Timed calls of each; the medians count.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 20
    device = pick_device(args.device)

    if args.model:
        pipe = GanPipeline.from_pretrained(args.model, trust_remote_code=True)
    else:
        torch.manual_seed(0)
        pipe = GanPipeline(GanGenerator(base_channels=32).eval())
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    network, batch = pipe.generator, args.batch_size
    labels = torch.arange(batch, device=device) % max(network.config.num_classes, 1)
    conditional = network.config.num_classes > 0
    label_list = labels.tolist()

    def bare() -> None:
        with torch.no_grad():
            latents = torch.randn(batch, network.config.latent_dim, device=device)
            network(latents, labels if conditional else None).sample.clamp(-1, 1)

    def pipeline() -> None:
        pipe(batch_size=batch, class_labels=label_list if conditional else None, output_type="pt")

    reset_peak_memory(device)
    bare_time, pipe_time = interleaved_medians(bare, pipeline, args.repeats, device)
    ratio = pipe_time / bare_time
    images_per_second = batch / pipe_time
    print(f"bare generator   {batch / bare_time:10,.0f} images/s")
    print(f"GanPipeline      {images_per_second:10,.0f} images/s (batch {batch}, output_type='pt')")
    print(f"time ratio {ratio:.3f} (bar <= {BAR}): {'holds' if ratio <= BAR else 'MISSED'}")
    peer = "bare GanGenerator forward"
    rows = [
        row(
            "gan_pipeline_throughput", images_per_second, "images/s", device, peer, ratio, BAR, "max", batch_size=batch
        )
    ]
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
