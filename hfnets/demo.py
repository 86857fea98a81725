"""`hfnets demo`: serve the gallery of the demos, from the models that ship with hfnets.

Each family's model is the folder or Hub id given on the command line, else the shipped model
(`hfnets.pretrained_path`). A family with neither gets a tab that gives the command training one; the demo itself
trains nothing.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from .resources import find_resource, is_model_folder, pretrained_path


@dataclass(frozen=True)
class Family:
    demo: str  # the gallery's key of the model: its demo folder in spaces/, "mnist-cnn" or "char-rnn"
    shipped: str  # the name of the shipped model (hfnets.pretrained_path)
    script: str  # the training script that makes one


FAMILIES = {
    "mlp": Family("mnist-classifier", "mnist-mlp", "train_mlp.py"),
    "cnn": Family("mnist-cnn", "mnist-cnn", "train_cnn.py"),
    "gan": Family("gan", "mnist-gan", "train_gan.py"),
    "ddpm": Family("ddpm", "mnist-ddpm", "train_ddpm.py"),
    "gpt": Family("gpt", "char-gpt", "train_gpt.py"),
    "rnn": Family("char-rnn", "char-rnn", "train_rnn.py"),
}


def training_hint(family: str) -> str:
    """How to give a family without a model one: the command that trains it, and the flag that shows it."""
    spec = FAMILIES[family]
    return (
        f"train one with `accelerate launch scripts/{spec.script} --output_dir my-{family}`, then "
        f"`hfnets demo --{family} my-{family}`"
    )


def resolve_model(family: str, given: str | None) -> str | None:
    """The model the demo of `family` shows: the one given, else the shipped one, else None."""
    if given is not None:
        if Path(given).exists() and not is_model_folder(given):
            raise ValueError(f"--{family} {given} holds no saved model (config.json or model_index.json).")
        return given  # a folder, or a Hub id that the demo downloads
    try:
        return pretrained_path(FAMILIES[family].shipped)
    except FileNotFoundError:
        return None


def run_demo(args) -> int:
    models = {}
    for family in FAMILIES:
        try:
            models[family] = resolve_model(family, getattr(args, family))
        except ValueError as error:
            print(f"hfnets demo: {error}", file=sys.stderr)
            return 1
        print(f"{family:5} {models[family] or '(none: ' + training_hint(family) + ')'}", flush=True)
    if args.no_launch:
        return 0
    gallery = load_gallery()
    demo = gallery.build_gallery({FAMILIES[family].demo: model for family, model in models.items()})
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.server_name, server_port=args.server_port, max_file_size=gallery.MAX_FILE_SIZE
    )
    return 0


def load_gallery():
    """The gallery Space's app (`spaces/gallery/app.py`, shipped inside the package): Space code, which travels to
    the Hub as it is, is loaded the way remote code is, from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hfnets_gallery", find_resource("spaces") / "gallery" / "app.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    return gallery


def add_demo_parser(commands) -> None:
    demo = commands.add_parser("demo", help="Serve the gallery of the demos, from the models that ship with hfnets.")
    for family, spec in FAMILIES.items():
        demo.add_argument(
            f"--{family}",
            default=None,
            help=f"Folder or Hub id of the {family} model (default: the shipped {spec.shipped}).",
        )
    demo.add_argument("--no_launch", action="store_true", help="Resolve the models, print them, and stop.")
    demo.add_argument(
        "--server_name", default=None, help="Address to serve on (default: GRADIO_SERVER_NAME or local)."
    )
    demo.add_argument("--server_port", type=int, default=None, help="Port (default: GRADIO_SERVER_PORT or 7860).")
    demo.set_defaults(handler=run_demo)
