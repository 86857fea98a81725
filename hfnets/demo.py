"""`hfnets demo`: serve the gallery of the four demos on any machine.

Each family's model is, in order: the folder or Hub id given, the published model (if the Hub can be reached), a
model this command trained earlier (cached in `--cache_dir`), or else a small default model trained now on the CPU
(minutes, with progress bars) and cached for the next time.
"""

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent
# Installed wheels carry scripts/ and spaces/ inside the package; a source checkout has them at the repository root.
_ROOTS = (_PACKAGE, _PACKAGE.parent)


@dataclass(frozen=True)
class Family:
    name: str  # the gallery's name of its demo folder
    published: str  # the Hub model the demo shows by default
    script: str
    quick_training: tuple[str, ...]  # flags of the small default model (CPU minutes)
    data_flag: str  # which of --dataset_name / --text_dataset it trains on


FAMILIES = {
    "mlp": Family("mnist-classifier", "hfnets/mnist-mlp", "train_mlp.py", ("--num_train_epochs", "2"), "images"),
    "gan": Family("gan", "hfnets/mnist-gan", "train_gan.py", ("--num_train_epochs", "3"), "images"),
    "ddpm": Family(
        "ddpm",
        "hfnets/mnist-ddpm",
        "train_ddpm.py",
        ("--num_train_epochs", "1", "--num_inference_steps", "25"),
        "images",
    ),
    "gpt": Family(
        "gpt", "hfnets/char-gpt", "train_gpt.py", ("--max_train_steps", "600", "--eval_steps", "300"), "text"
    ),
}


def find_resource(name: str) -> Path:
    """`scripts/` or `spaces/`, wherever this installation keeps it."""
    for root in _ROOTS:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"No {name}/ folder next to hfnets ({', '.join(str(r) for r in _ROOTS)}).")


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() or (path / "model_index.json").is_file()


def reachable_on_hub(model_id: str) -> bool:
    """True when the Hub answers for `model_id` (False offline, or when it does not exist)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        HfApi().model_info(model_id, timeout=10)
        return True
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError, ValueError):
        return False


def resolve_model(family: str, given: str | None, cache_dir: Path, train: bool, data: dict[str, str]) -> str:
    """The model the demo of `family` shows; trains the small default one when nothing else can be had."""
    spec = FAMILIES[family]
    if given is not None and Path(given).is_dir():
        if not is_model_folder(Path(given)):
            raise ValueError(f"{given} holds no saved model (config.json or model_index.json).")
        return given
    candidate = given or spec.published
    if reachable_on_hub(candidate):
        return candidate
    cached = cache_dir / family
    if is_model_folder(cached):
        logger.warning(f"{candidate} cannot be downloaded; showing the {family} model trained earlier in {cached}.")
        return str(cached)
    if not train:
        raise RuntimeError(f"{candidate} cannot be downloaded and no {family} model is cached in {cache_dir}.")
    logger.warning(f"{candidate} cannot be downloaded; training a small {family} model into {cached} (CPU minutes).")
    data_args = ["--dataset_name", data[spec.data_flag]]
    command = [sys.executable, str(find_resource("scripts") / spec.script), *data_args, *spec.quick_training]
    command += ["--output_dir", str(cached), "--report_to", "none"]
    result = subprocess.run(command)  # its progress bars go to this terminal
    if result.returncode != 0 or not is_model_folder(cached):
        raise RuntimeError(f"Training the {family} model failed (exit {result.returncode}): {' '.join(command)}")
    return str(cached)


def run_demo(args) -> int:
    data = {"images": args.dataset_name, "text": args.text_dataset}
    cache_dir = Path(args.cache_dir).expanduser()
    models = {}
    for family in FAMILIES:
        try:
            models[family] = resolve_model(family, getattr(args, family), cache_dir, not args.no_train, data)
        except (RuntimeError, ValueError) as error:
            print(f"hfnets demo: {error}", file=sys.stderr)
            return 1
        print(f"{family:5} {models[family]}")
    if args.no_launch:
        return 0
    import importlib.util

    gallery_path = find_resource("spaces") / "gallery" / "app.py"
    spec = importlib.util.spec_from_file_location("hfnets_gallery", gallery_path)
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    demo = gallery.build_gallery({FAMILIES[family].name: model for family, model in models.items()})
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.server_name, server_port=args.server_port
    )
    return 0


def add_demo_parser(commands) -> None:
    demo = commands.add_parser("demo", help="Serve the gallery of the four demos (training small models if needed).")
    for family, spec in FAMILIES.items():
        demo.add_argument(
            f"--{family}", default=None, help=f"Folder or Hub id of the {family} model ({spec.published})."
        )
    demo.add_argument("--cache_dir", default="~/.cache/hfnets/demo", help="Where models trained by this command live.")
    demo.add_argument("--dataset_name", default="ylecun/mnist", help="Digits to train on (Hub id or local copy).")
    demo.add_argument("--text_dataset", default="karpathy/tiny_shakespeare", help="Text to train the GPT on.")
    demo.add_argument("--no_train", action="store_true", help="Fail instead of training a missing model.")
    demo.add_argument("--no_launch", action="store_true", help="Resolve (and train) the models, print them, and stop.")
    demo.add_argument(
        "--server_name", default=None, help="Address to serve on (default: GRADIO_SERVER_NAME or local)."
    )
    demo.add_argument("--server_port", type=int, default=None, help="Port (default: GRADIO_SERVER_PORT or 7860).")
    demo.set_defaults(handler=run_demo)
