"""The `hfnets` command: thin dispatch to the library."""

import argparse
import json
import sys
from pathlib import Path


def _predict(args: argparse.Namespace) -> int:
    """Classify image files with a saved classifier (folder or Hub id) and print the top classes of each."""
    import PIL.Image
    from transformers import pipeline

    import hfnets  # noqa: F401  (registers the hfnets model classes)

    missing = [path for path in args.images if not Path(path).is_file()]
    if missing:
        print(f"hfnets predict: no such image file: {', '.join(missing)}", file=sys.stderr)
        return 2
    classifier = pipeline("image-classification", model=args.model, trust_remote_code=args.trust_remote_code)
    for path in args.images:
        try:
            image = PIL.Image.open(path)
            image.load()
        except (OSError, PIL.UnidentifiedImageError) as error:
            print(f"hfnets predict: cannot read {path} as an image: {error}", file=sys.stderr)
            return 2
        # RGBA goes to the processor as an array: the pipeline would flatten a PIL image to RGB and lose alpha.
        predictions = classifier(_as_array_if_transparent(image), top_k=args.top_k)
        if args.json:
            print(json.dumps({"image": path, "predictions": predictions}))
        else:
            ranked = ", ".join(f"{p['label']} ({p['score']:.3f})" for p in predictions)
            print(f"{path}: {ranked}")
    return 0


def _as_array_if_transparent(image):
    import numpy as np

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"))
    return image


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hfnets", description="hfnets: classic neural networks the Hugging Face way."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="Classify digit images with a trained classifier.")
    predict.add_argument("model", help="A saved model folder or a Hub model id.")
    predict.add_argument("images", nargs="+", help="Image files (PNG, JPEG, ...).")
    predict.add_argument("--top_k", type=int, default=3, help="How many classes to print per image.")
    predict.add_argument("--json", action="store_true", help="Print one JSON line per image.")
    predict.add_argument("--trust_remote_code", action="store_true", help="Allow a Hub model's own code files to run.")
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
