"""GanPipeline sampling speed against calling its generator network directly, same batch, same process.

The pipeline adds argument checks, noise creation, the [-1, 1] -> [0, 1] conversion and output formatting; the bar
is that all this costs at most 10% (ratio of times <= 1.1). `--model` takes a trained pipeline folder; by default a
freshly initialized generator of the default size is timed (speed does not depend on the weights).

    python benchmarks/bench_gan.py --json bench_gan.json
"""

import argparse
import json
import platform
from pathlib import Path

import diffusers
import torch
from timing import interleaved_medians

from hfnets import GanGenerator, GanPipeline

# The bar: the pipeline's time at most 1.1x the bare generator's.
BAR = 1.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="A saved GanPipeline folder (default: a new generator).")
    parser.add_argument("--batch_size", type=int, default=256, help="Images per call.")
    parser.add_argument("--repeats", type=int, default=100, help="Timed calls of each; the medians count.")
    parser.add_argument("--json", default=None, help="Write the results to this JSON file.")
    args = parser.parse_args()

    if args.model:
        pipe = GanPipeline.from_pretrained(args.model, trust_remote_code=True)
    else:
        torch.manual_seed(0)
        pipe = GanPipeline(GanGenerator(base_channels=32).eval())
    pipe.set_progress_bar_config(disable=True)
    network, batch = pipe.generator, args.batch_size
    labels = torch.arange(batch) % max(network.config.num_classes, 1)
    conditional = network.config.num_classes > 0

    def bare() -> None:
        with torch.no_grad():
            latents = torch.randn(batch, network.config.latent_dim)
            network(latents, labels if conditional else None).sample.clamp(-1, 1)

    def pipeline() -> None:
        pipe(batch_size=batch, class_labels=labels.tolist() if conditional else None, output_type="pt")

    bare_time, pipe_time = interleaved_medians(bare, pipeline, args.repeats)
    ratio = pipe_time / bare_time
    images_per_second = batch / pipe_time
    print(f"bare generator   {batch / bare_time:10,.0f} images/s")
    print(f"GanPipeline      {images_per_second:10,.0f} images/s (batch {batch}, output_type='pt')")
    print(f"time ratio {ratio:.3f} (bar <= {BAR}): {'holds' if ratio <= BAR else 'MISSED'}")
    if args.json:
        row = {
            "name": "gan_pipeline_throughput",
            "value": round(images_per_second, 1),
            "unit": "images/s",
            "peer": "bare GanGenerator forward",
            "ratio": round(ratio, 3),
            "bar": BAR,
            "holds": ratio <= BAR,
            "batch_size": batch,
            "threads": torch.get_num_threads(),
            "versions": {
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "python": platform.python_version(),
            },
        }
        Path(args.json).write_text(json.dumps([row], indent=2) + "\n")


if __name__ == "__main__":
    main()
