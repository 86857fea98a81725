"""Digits as people draw them, through transformers' stock `pipeline("image-classification")`: accuracy on MNIST test
digits redrawn canvas-style, against the same model on the original 28x28 digits.

Each test digit is redrawn the way a drawing app or a web canvas saves it: enlarged to 150-300 px, strokes
thickened, placed off-center on a 400x400 canvas, as black ink on a transparent background (RGBA) and as black ink
on white (RGB). The pipeline is the one the model folder names (`trust_remote_code=True`); the stock
`ImageClassificationPipeline`, which flattens transparency to black, is measured beside it for reference. The bar
is an absolute one: at least 97% of the canvas drawings classified right.

    python benchmarks/bench_canvas.py --dataset_name ylecun/mnist --json bench_canvas.json
"""

import argparse

import numpy as np
import torch
from common import add_common_args, pick_device, reset_peak_memory, row, write_rows
from PIL import Image, ImageFilter

# The bar: transparent canvas drawings classified right at least this often.
BAR = 0.97
CANVAS = 400


def canvas_drawings(digits: np.ndarray, seed: int) -> tuple[list[Image.Image], list[Image.Image]]:
    """Each 28x28 digit redrawn large, thick and off-center: (RGBA on transparent, RGB on white) PIL images."""
    rng = np.random.default_rng(seed)
    transparent, on_white = [], []
    for digit in digits:
        side = int(rng.integers(150, 301))
        ink = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
        thickness = int(rng.choice([1, 5, 9, 13]))  # MaxFilter sizes: from the digit's own width to a marker
        if thickness > 1:
            ink = ink.filter(ImageFilter.MaxFilter(thickness))
        x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
        alpha = Image.new("L", (CANVAS, CANVAS), 0)
        alpha.paste(ink, (x, y))
        rgba = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
        rgba.putalpha(alpha)  # black ink whose opacity is the stroke
        transparent.append(rgba)
        on_white.append(Image.eval(alpha, lambda v: 255 - v).convert("RGB"))
    return transparent, on_white


def accuracy(classifier, images: list[Image.Image], labels: np.ndarray, batch_size: int) -> float:
    """The share classified right. An image the pipeline cannot read at all counts as wrong (the stock pipeline
    flattens a transparent drawing to black, where the processor finds no digit: what this measures)."""
    right = 0
    for first in range(0, len(images), batch_size):
        batch, truth = images[first : first + batch_size], labels[first : first + batch_size]
        try:
            predictions = classifier(batch, top_k=1, batch_size=batch_size)
        except ValueError:  # an unreadable image in the batch: one at a time, to count the others
            predictions = []
            for image in batch:
                try:
                    predictions.append(classifier(image, top_k=1))
                except ValueError:
                    predictions.append(None)
        right += sum(p is not None and int(p[0]["label"]) == int(t) for p, t in zip(predictions, truth))
    return right / len(images)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="A digit classifier folder or Hub id (default: shipped MLP).")
    parser.add_argument("--dataset_name", default="ylecun/mnist", help="MNIST: Hub id or local folder.")
    parser.add_argument("--num_images", type=int, default=2000, help="Test digits redrawn (the first N).")
    parser.add_argument("--batch_size", type=int, default=64, help="Images per pipeline batch.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the sizes, thicknesses and positions.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.num_images = min(args.num_images, 300)
    device = pick_device(args.device)

    from datasets import load_dataset
    from transformers import ImageClassificationPipeline, pipeline

    import hfnets

    model = args.model or hfnets.pretrained_path("mnist-mlp")
    test = load_dataset(args.dataset_name, split="test").select(range(args.num_images)).with_format("numpy")
    digits, labels = test[:]["image"], test[:]["label"]
    transparent, on_white = canvas_drawings(digits, args.seed)
    originals = [Image.fromarray(digit) for digit in digits]

    reset_peak_memory(device)
    classifier = pipeline("image-classification", model=model, trust_remote_code=True, device=device)
    stock = pipeline(
        "image-classification",
        model=model,
        trust_remote_code=True,
        device=device,
        pipeline_class=ImageClassificationPipeline,
    )
    with torch.inference_mode():
        original = accuracy(classifier, originals, labels, args.batch_size)
        results = {
            "transparent": accuracy(classifier, transparent, labels, args.batch_size),
            "on_white": accuracy(classifier, on_white, labels, args.batch_size),
            "transparent_stock_pipeline": accuracy(stock, transparent, labels, args.batch_size),
        }
    print(f"{type(classifier).__name__} on {args.num_images} test digits of {model}")
    print(f"original 28x28 digits             {original:.2%}")
    print(f"canvas, ink on transparent (RGBA) {results['transparent']:.2%} (bar >= {BAR:.0%})")
    print(f"canvas, ink on white (RGB)        {results['on_white']:.2%}")
    print(f"canvas RGBA, stock pipeline class {results['transparent_stock_pipeline']:.2%}")
    peer = "same pipeline, original 28x28 test digits"
    common = {"num_images": args.num_images, "model": str(model)}
    rows = [
        row(
            "canvas_rgba_accuracy",
            results["transparent"],
            "accuracy",
            device,
            peer,
            results["transparent"] / original,
            BAR,
            "min",
            "value",
            **common,
        ),
        row(
            "canvas_rgb_on_white_accuracy",
            results["on_white"],
            "accuracy",
            device,
            peer,
            results["on_white"] / original,
            BAR,
            "min",
            "value",
            **common,
        ),
        row(
            "canvas_rgba_accuracy_stock_pipeline_class",
            results["transparent_stock_pipeline"],
            "accuracy",
            device,
            **common,
        ),
        row("mnist_test_accuracy_through_pipeline", original, "accuracy", device, **common),
    ]
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
