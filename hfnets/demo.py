"""`hfnets demo`: serve the gallery of the demos, from the models that ship with hfnets.

Which model each tab shows is the demos' own table (`spaces/settings.py`, shipped inside the package): the folder
or Hub id given on the command line, else its environment variable, else the shipped model. A family with none gets
a tab that gives the command training one; the demo itself trains nothing.
"""

import sys
from pathlib import Path

from .resources import import_spaces, is_model_folder, looks_like_a_path


def check_given(family: str, given: str | None) -> None:
    """Refuse, before anything loads, a model that is not there: a folder that holds no saved model, a path to no
    folder, a Hub id that is neither on the Hub nor (offline) in the cache."""
    if given is None:
        return
    if Path(given).exists():
        if not is_model_folder(given):
            raise ValueError(f"--{family} {given} holds no saved model (config.json or model_index.json).")
        return
    if looks_like_a_path(given):
        raise ValueError(f"--{family} {given}: no such folder.")
    problem = hub_model_problem(given)
    if problem:
        raise ValueError(f"--{family} {given} is not a folder here, and {problem}")


def hub_model_problem(repo_id: str) -> str | None:
    """Why the Hub model `repo_id` cannot be loaded (None when it can): not on the Hub, or offline and not cached."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError

    if constants.HF_HUB_OFFLINE:
        for name in ("config.json", "model_index.json"):
            if isinstance(huggingface_hub.try_to_load_from_cache(repo_id, name), str):
                return None
        return "HF_HUB_OFFLINE is set while no such Hub model is in the cache: give a folder, or go online once."
    try:
        huggingface_hub.model_info(repo_id, timeout=15)
    except RepositoryNotFoundError:
        return "no model of that name is on the Hub (or visible with this token): give a folder or a Hub model id."
    except Exception as error:  # noqa: BLE001 (no network, a proxy, a Hub outage: said in one line, whatever raised)
        return f"the Hub could not be reached to find it ({type(error).__name__}): give a folder, or try again online."
    return None


def run_demo(args) -> int:
    settings = import_spaces("settings")
    given = {family: getattr(args, family) for family in settings.FAMILIES}
    try:
        for family, model in given.items():
            check_given(family, model)
    except ValueError as error:
        print(f"hfnets demo: {error}", file=sys.stderr)
        return 1
    models = settings.model_ids(given)
    for family, model in models.items():
        print(f"{family:5} {model or '(none: ' + settings.no_model(family) + ')'}", flush=True)
    dataset = args.dataset or settings.playground_dataset()
    print(f"digits {dataset} (the Playground trains on them)", flush=True)
    if args.no_launch:
        return 0
    gallery = import_spaces("gallery.app")
    demo = gallery.build_gallery(models, dataset)
    demo.queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=args.server_name, server_port=args.server_port, max_file_size=gallery.MAX_FILE_SIZE
    )
    return 0


def add_demo_parser(commands) -> None:
    demo = commands.add_parser("demo", help="Serve the gallery of the demos, from the models that ship with hfnets.")
    for family, spec in import_spaces("settings").FAMILIES.items():
        demo.add_argument(
            f"--{family}",
            default=None,
            help=f"Folder or Hub id of the {spec.kind} model (default: {spec.variable}, else the shipped "
            f"{spec.shipped}).",
        )
    demo.add_argument(
        "--dataset",
        default=None,
        help="The digits the Playground trains on: a Hub id or a local copy in the Hub layout (default: DATASET, "
        "else ylecun/mnist; offline, the 6,000 training and 1,000 test digits that ship with the Playground).",
    )
    demo.add_argument("--no_launch", action="store_true", help="Resolve the models, print them, and stop.")
    demo.add_argument(
        "--server_name", default=None, help="Address to serve on (default: GRADIO_SERVER_NAME or local)."
    )
    demo.add_argument("--server_port", type=int, default=None, help="Port (default: GRADIO_SERVER_PORT or 7860).")
    demo.set_defaults(handler=run_demo)
