"""`hfnets demo`: serve the gallery of the demos, from the models that ship with hfnets.

Each family's model is, in order: the folder or Hub id given on the command line, the shipped model
(`hfnets.pretrained_path`), a model this command trained earlier (in `--cache_dir`), or, with `--train_missing`, a
small model trained now. A family with none of these gets a tab that says how to provide one; nothing is trained
unless asked.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .resources import find_resource, is_model_folder, pretrained_path


@dataclass(frozen=True)
class Family:
    demo: str  # the gallery's key of the model: its demo folder in spaces/, "mnist-cnn" or "char-rnn"
    shipped: str  # the name of the shipped model (hfnets.pretrained_path)
    script: str
    quick_training: tuple[str, ...]  # flags of the small model trained by --train_missing
    data_flag: str  # which of --dataset_name / --text_dataset it trains on


FAMILIES = {
    "mlp": Family("mnist-classifier", "mnist-mlp", "train_mlp.py", ("--num_train_epochs", "2"), "images"),
    "cnn": Family(
        "mnist-cnn",
        "mnist-cnn",
        "train_cnn.py",
        ("--num_train_epochs", "2", "--random_rotation", "0", "--random_shift", "0", "--random_scale", "0"),
        "images",
    ),
    "gan": Family("gan", "mnist-gan", "train_gan.py", ("--num_train_epochs", "3"), "images"),
    "ddpm": Family(
        "ddpm", "mnist-ddpm", "train_ddpm.py", ("--num_train_epochs", "1", "--num_inference_steps", "25"), "images"
    ),
    "gpt": Family("gpt", "char-gpt", "train_gpt.py", ("--max_train_steps", "600", "--eval_steps", "300"), "text"),
    "rnn": Family(
        "char-rnn",
        "char-rnn",
        "train_rnn.py",
        ("--max_train_steps", "300", "--eval_steps", "300", "--config_overrides", "hidden_size=256"),
        "text",
    ),
}


def cpu_threads() -> int:
    """The cores this process may run on (its affinity where the OS tells it, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def train_quick_model(family: str, output_dir: Path, data: dict[str, str]) -> None:
    """Train the family's small model with its script, on every core of this machine and the precision it runs
    natively (the scripts' `--mixed_precision auto`); the script's progress bar shows the time left."""
    spec = FAMILIES[family]
    command = [sys.executable, str(find_resource("scripts") / spec.script), "--dataset_name", data[spec.data_flag]]
    command += [*spec.quick_training, "--output_dir", str(output_dir), "--report_to", "none"]
    threads = cpu_threads()
    # One training process: give torch every core explicitly (a busy machine's default can oversubscribe).
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    print(
        f"hfnets demo: training a small {family} model ({' '.join(spec.quick_training)}) on {threads} CPU "
        f"thread(s) into {output_dir}; the progress bar below shows the time left.",
        file=sys.stderr,
        flush=True,
    )
    result = subprocess.run(command, env=env)
    if result.returncode != 0 or not is_model_folder(output_dir):
        raise RuntimeError(f"Training the {family} model failed (exit {result.returncode}): {' '.join(command)}")


def resolve_model(family: str, given: str | None, cache_dir: Path, train: bool, data: dict[str, str]) -> str | None:
    """The model the demo of `family` shows, or None when there is none and training was not asked for."""
    spec = FAMILIES[family]
    if given is not None:
        if Path(given).exists() and not is_model_folder(given):
            raise ValueError(f"--{family} {given} holds no saved model (config.json or model_index.json).")
        return given  # a folder, or a Hub id that the demo downloads
    try:
        return pretrained_path(spec.shipped)
    except FileNotFoundError:
        pass
    cached = cache_dir / family
    if is_model_folder(cached):
        return str(cached)
    if not train:
        return None
    train_quick_model(family, cached, data)
    return str(cached)


def run_demo(args) -> int:
    data = {"images": args.dataset_name, "text": args.text_dataset}
    cache_dir = Path(args.cache_dir).expanduser()
    models = {}
    for family in FAMILIES:
        try:
            models[family] = resolve_model(family, getattr(args, family), cache_dir, args.train_missing, data)
        except (RuntimeError, ValueError) as error:
            print(f"hfnets demo: {error}", file=sys.stderr)
            return 1
        print(f"{family:5} {models[family] or '(none: pass --' + family + ' or --train_missing)'}", flush=True)
    if args.no_launch:
        return 0
    import importlib.util

    gallery_path = find_resource("spaces") / "gallery" / "app.py"
    spec = importlib.util.spec_from_file_location("hfnets_gallery", gallery_path)
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    demo = gallery.build_gallery({FAMILIES[family].demo: model for family, model in models.items()})
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.server_name, server_port=args.server_port, max_file_size=gallery.MAX_FILE_SIZE
    )
    return 0


def add_demo_parser(commands) -> None:
    demo = commands.add_parser("demo", help="Serve the gallery of the demos, from the models that ship with hfnets.")
    for family, spec in FAMILIES.items():
        demo.add_argument(
            f"--{family}",
            default=None,
            help=f"Folder or Hub id of the {family} model (default: the shipped {spec.shipped}).",
        )
    demo.add_argument(
        "--train_missing",
        action="store_true",
        help="Train a small model for a family that has no shipped, given or cached model (CPU minutes, with a "
        "progress bar), and cache it in --cache_dir.",
    )
    demo.add_argument("--cache_dir", default="~/.cache/hfnets/demo", help="Where models trained by this command live.")
    demo.add_argument(
        "--dataset_name", default="ylecun/mnist", help="Digits for --train_missing (Hub id or local copy)."
    )
    demo.add_argument(
        "--text_dataset", default="karpathy/tiny_shakespeare", help="Text for --train_missing (Hub id or local copy)."
    )
    demo.add_argument("--no_launch", action="store_true", help="Resolve (and train) the models, print them, and stop.")
    demo.add_argument(
        "--server_name", default=None, help="Address to serve on (default: GRADIO_SERVER_NAME or local)."
    )
    demo.add_argument("--server_port", type=int, default=None, help="Port (default: GRADIO_SERVER_PORT or 7860).")
    demo.set_defaults(handler=run_demo)
