"""The `hfnets` command: thin dispatch to the library."""

import argparse
import json
import re
import sys
from pathlib import Path

# `hfnets evaluate --scheduler`: the diffusers schedulers a diffusion pipeline can sample with.
SCHEDULERS = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
}


def _predict(args: argparse.Namespace) -> int:
    """Classify image files with a saved classifier (folder or Hub id) and print the top classes of each.

    A user error (a folder that is not a classifier, an unreadable, oversized or blank image) is one line on stderr
    and exit code 2; the other images of a batch are still classified.
    """

    def fail(message: str) -> None:
        print(f"hfnets predict: {message}", file=sys.stderr)

    if args.top_k < 1:
        fail(f"--top_k must be at least 1, got {args.top_k}.")
        return 2
    problem = _not_a_classifier(args.model)  # from the folder's files: said before torch is even imported
    if problem:
        fail(problem)
        return 2

    from transformers import pipeline
    from transformers.utils import logging as transformers_logging

    import hfnets
    from hfnets.mlp.pipeline_mlp import open_image

    transformers_logging.disable_progress_bar()  # stderr holds one line per problem, nothing else
    # The hfnets pipeline class keeps transparent drawings intact; with --trust_remote_code the folder's own copy
    # of it (named in config.json) is used instead.
    own_class = {} if args.trust_remote_code else {"pipeline_class": hfnets.DigitClassificationPipeline}
    try:
        classifier = pipeline(
            "image-classification", model=args.model, trust_remote_code=args.trust_remote_code, **own_class
        )
    except (OSError, ValueError, KeyError) as error:
        fail(f"cannot load an image classifier from {args.model}: {_first_reason(error)}")
        return 2
    failures = 0
    for path in args.images:
        try:
            if not Path(path).is_file():
                raise ValueError("no such image file")
            predictions = classifier(open_image(path), top_k=args.top_k)
        except ValueError as error:  # unreadable, too large, no digit in it
            fail(f"{path}: {error}")
            failures += 1
            continue
        if args.json:
            print(json.dumps({"image": path, "predictions": predictions}))
        else:
            ranked = ", ".join(f"{p['label']} ({p['score']:.3f})" for p in predictions)
            print(f"{path}: {ranked}")
    return 2 if failures else 0


def _first_reason(error: BaseException) -> str:
    """One line for why loading failed: the message itself, or where transformers wraps the errors of every class it
    tried ("See the original errors: ... Traceback ..."), the last error those tracebacks end with."""
    text = str(error).strip()
    if "See the original errors" in text:
        ends = re.findall(r"^(?:[\w.]+)?(?:Error|Exception): (.+)$", text, re.MULTILINE)
        if ends:
            return ends[-1]
    return text.splitlines()[0] if text else type(error).__name__


def _not_a_classifier(model: str) -> str | None:
    """Why a local `model` folder cannot classify images (None when it may: a classifier folder, or a Hub id)."""
    from hfnets.resources import is_model_folder, looks_like_a_path

    folder = Path(model)
    if not folder.exists():
        if looks_like_a_path(model):
            return f"no such model folder: {model}"
        return None  # a Hub id
    if not folder.is_dir():
        return f"{model} is a file; pass the model folder it belongs to."
    if (folder / "model_index.json").is_file():
        return f"{model} is an image generator (a diffusers pipeline), not a classifier: pass an MLP or CNN folder."
    if not is_model_folder(folder):
        return f"{model} holds no config.json: pass a folder a classifier was saved to, or a Hub id."
    config = folder / "config.json"
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError) as error:
        return f"{config} cannot be read: {error}"
    if architectures and not any(name.endswith("ForImageClassification") for name in architectures):
        return f"{model} holds a {architectures[0]}, not an image classifier: pass an MLP or CNN folder."
    return None


def _evaluate(args: argparse.Namespace) -> int:
    """Judge a generation pipeline's samples against real images; print the report and write it as JSON."""
    import diffusers
    import torch
    from diffusers import DiffusionPipeline

    import hfnets  # noqa: F401  (registers the hfnets model classes)
    from hfnets.atomic import write_json_atomically
    from hfnets.evaluation import JudgeFeatures, evaluation_report, generate_for_evaluation
    from hfnets.training.data import decode_images, find_image_column, load_dataset_dict

    local = Path(args.pipeline).is_dir()
    if not local and not args.trust_remote_code:
        print(
            "hfnets evaluate: a Hub pipeline runs its own code; pass --trust_remote_code to allow it.", file=sys.stderr
        )
        return 2
    pipe = DiffusionPipeline.from_pretrained(args.pipeline, trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    judge = JudgeFeatures.from_pretrained(args.judge, trust_remote_code=args.trust_remote_code)
    num_classes = pipe.num_classes
    sampling = {}
    if args.scheduler is not None:
        pipe.scheduler = getattr(diffusers, SCHEDULERS[args.scheduler]).from_config(pipe.scheduler.config)
    if args.num_inference_steps is not None:
        sampling["num_inference_steps"] = args.num_inference_steps
    if args.guidance_scale is not None:
        sampling["guidance_scale"] = args.guidance_scale
    if sampling and not hasattr(pipe, "scheduler"):
        print(
            "hfnets evaluate: --num_inference_steps and --guidance_scale are for diffusion pipelines.", file=sys.stderr
        )
        return 2

    dataset = load_dataset_dict(args.dataset_name)
    real = {}
    for split in ("train", "test"):
        subset = dataset[split].select(range(min(args.num_samples, len(dataset[split]))))
        size = judge.image_shape[-1]
        real[split] = decode_images(subset, find_image_column(subset), judge.image_shape[0], size).float() / 255

    torch.manual_seed(args.seed)
    images, requested = generate_for_evaluation(pipe, args.num_samples, num_classes, seed=args.seed, **sampling)
    report = {"pipeline": args.pipeline, "judge": args.judge, "seed": args.seed}
    if hasattr(pipe, "scheduler"):
        steps = sampling.get("num_inference_steps", "default")
        guidance = sampling.get("guidance_scale", pipe.config.get("guidance_scale"))
        report["sampler"] = {"scheduler": type(pipe.scheduler).__name__, "steps": steps, "guidance_scale": guidance}
    report |= evaluation_report(images, requested, judge, real["test"], real["train"], num_classes)
    for key in ("conditional_accuracy", "frechet_distance", "frechet_distance_floor"):
        if key in report:
            print(f"{key:24} {report[key]:.4f}")
    coverage = report["class_coverage"]
    print(f"{'class histogram':24} {coverage['histogram']}")
    print(f"{'class entropy (bits)':24} {coverage['entropy_bits']:.3f} of {coverage['max_entropy_bits']:.3f}")
    output = args.json or (str(Path(args.pipeline, "eval_results.json")) if local else None)
    if output:
        write_json_atomically(output, report)
        print(f"written to {output}")
    return 0


def _push(args: argparse.Namespace) -> int:
    """Upload a trained model folder to the Hub in one commit, after checking it is complete."""
    from hfnets.hub import PushError, push_folder

    try:
        url = push_folder(
            args.folder,
            args.repo_id,
            token=args.token,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
        )
    except PushError as error:
        print(f"hfnets push: {error}", file=sys.stderr)
        return 1
    print(url)
    return 0


def _space(args: argparse.Namespace) -> int:
    """Create or update a Gradio Space from spaces/<name>/, showing a model already on the Hub."""
    from hfnets.hub import PushError, push_space

    try:
        models = dict(pair.split("=", 1) if "=" in pair else ("MODEL_ID", pair) for pair in args.model_id)
        if len(models) < len(args.model_id):
            raise PushError(f"--model-id names a Space variable twice: {' '.join(args.model_id)}")
        url = push_space(args.space_dir, args.repo_id, models, token=args.token, private=args.private)
    except PushError as error:
        print(f"hfnets space: {error}", file=sys.stderr)
        return 1
    print(url)
    return 0


def _export(args: argparse.Namespace) -> int:
    from hfnets.hub import PushError, export_folder

    try:
        files = export_folder(args.folder, args.destination)
    except PushError as error:
        print(f"hfnets export: {error}", file=sys.stderr)
        return 1
    print(f"{len(files)} files from {args.folder} in {args.destination}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from hfnets import __version__

    parser = argparse.ArgumentParser(
        prog="hfnets", description="hfnets: classic neural networks the Hugging Face way."
    )
    parser.add_argument("--version", action="version", version=f"hfnets {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="Classify digit images with a trained classifier.")
    predict.add_argument("model", help="A saved model folder or a Hub model id.")
    predict.add_argument("images", nargs="+", help="Image files (PNG, JPEG, ...).")
    predict.add_argument("--top_k", type=int, default=3, help="How many classes to print per image.")
    predict.add_argument("--json", action="store_true", help="Print one JSON line per image.")
    predict.add_argument("--trust_remote_code", action="store_true", help="Allow a Hub model's own code files to run.")
    predict.set_defaults(handler=_predict)

    evaluate = commands.add_parser("evaluate", help="Judge a GAN or DDPM pipeline's digits against real MNIST.")
    evaluate.add_argument("pipeline", help="A saved pipeline folder or a Hub id.")
    evaluate.add_argument("--judge", required=True, help="The judge classifier (folder or Hub id).")
    evaluate.add_argument("--dataset_name", default="ylecun/mnist", help="Real images: Hub id or local folder.")
    evaluate.add_argument("--num_samples", type=int, default=1000, help="Images to generate (100 per class).")
    evaluate.add_argument("--seed", type=int, default=0, help="Seed of the generated samples.")
    evaluate.add_argument(
        "--json", default=None, help="Where to write the report (default: <pipeline>/eval_results.json)."
    )
    evaluate.add_argument(
        "--scheduler", choices=sorted(SCHEDULERS), default=None, help="Diffusion: sample with this scheduler instead."
    )
    evaluate.add_argument("--num_inference_steps", type=int, default=None, help="Diffusion: denoising steps.")
    evaluate.add_argument("--guidance_scale", type=float, default=None, help="Diffusion: classifier-free guidance.")
    evaluate.add_argument("--trust_remote_code", action="store_true", help="Allow Hub repositories' own code to run.")
    evaluate.set_defaults(handler=_evaluate)

    push = commands.add_parser("push", help="Upload a trained model folder (weights, configs, code, card) to the Hub.")
    push.add_argument("folder", help="The folder a training script wrote (--output_dir).")
    push.add_argument("--repo-id", "--repo_id", dest="repo_id", required=True, help="USER/NAME, or NAME for yours.")
    push.add_argument("--private", action="store_true", help="Create the repository as private.")
    push.add_argument("--revision", default=None, help="Branch to push to (created from main if new).")
    push.add_argument("--token", default=None, help="Hub write token (default: HF_TOKEN or the saved login).")
    push.add_argument(
        "--commit-message", "--commit_message", dest="commit_message", default="Upload model trained with hfnets"
    )
    push.set_defaults(handler=_push)

    export = commands.add_parser(
        "export", help="Copy what `hfnets push` would upload from a trained folder into a local folder."
    )
    export.add_argument("folder", help="The folder a training script wrote (--output_dir).")
    export.add_argument("destination", help="The new folder (replaced as a whole if it exists).")
    export.set_defaults(handler=_export)

    space = commands.add_parser("space", help="Create or update a Gradio Space from spaces/<name>/.")
    space.add_argument("space_dir", help="The Space folder: app.py, requirements.txt and optionally README.md.")
    space.add_argument("--repo-id", "--repo_id", dest="repo_id", required=True, help="The Space: USER/NAME or NAME.")
    space.add_argument(
        "--model-id",
        "--model_id",
        dest="model_id",
        action="append",
        required=True,
        help="The Hub model the Space shows (its variable MODEL_ID). For an app that shows several, give "
        "VARIABLE=USER/NAME once per model, e.g. the gallery's MLP_MODEL_ID=you/mnist-mlp.",
    )
    space.add_argument("--private", action="store_true", help="Create the Space as private.")
    space.add_argument("--token", default=None, help="Hub write token (default: HF_TOKEN or the saved login).")
    space.set_defaults(handler=_space)

    from hfnets.demo import add_demo_parser

    add_demo_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
