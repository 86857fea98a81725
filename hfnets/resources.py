"""Files that ship with hfnets: the trained models in `pretrained/`, the training scripts and the demo apps.

An installed wheel carries them inside the package (`hfnets/pretrained`, `hfnets/scripts`, `hfnets/spaces`); a source
checkout has them at the repository root. Both layouts are looked up, package first.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_ROOTS = (_PACKAGE, _PACKAGE.parent)

# The trained models hfnets ships, one Hub-ready folder each: name -> what it is.
PRETRAINED_MODELS = {
    "mnist-mlp": "the 784-128-10 MLP digit classifier (transformers)",
    "mnist-cnn": "the convolutional digit classifier that judges generated digits (transformers)",
    "mnist-gan": "the class-conditional GAN (diffusers pipeline)",
    "mnist-ddpm": "the class-conditional DDPM diffusion model (diffusers pipeline)",
    "char-gpt": "the character-level GPT trained on Tiny Shakespeare (transformers)",
    "char-rnn": "the character-level recurrent network (LSTM) trained on Tiny Shakespeare (transformers)",
}


def find_resource(name: str) -> Path:
    """`scripts/`, `spaces/` or `pretrained/`, wherever this installation keeps it."""
    for root in _ROOTS:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"No {name}/ folder next to hfnets ({', '.join(str(r) for r in _ROOTS)}).")


def is_model_folder(path: str | Path) -> bool:
    """A folder written by `save_pretrained`: a transformers model (`config.json`) or a diffusers pipeline."""
    path = Path(path)
    return (path / "config.json").is_file() or (path / "model_index.json").is_file()


def looks_like_a_path(name: str) -> bool:
    """Whether a model name that is not on disk was meant as a folder (`./runs/x`, `/data/m`, `runs/a/b`) rather than
    a Hub id (`name` or `user/name`)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def available_pretrained() -> list[str]:
    """The names of the shipped models present in this installation."""
    try:
        root = find_resource("pretrained")
    except FileNotFoundError:
        return []
    return [name for name in PRETRAINED_MODELS if is_model_folder(root / name)]


def pretrained_path(name: str) -> str:
    """The folder of a model that ships with hfnets, for any `from_pretrained`:

    ```python
    >>> import hfnets
    >>> from diffusers import DiffusionPipeline
    >>> pipe = DiffusionPipeline.from_pretrained(hfnets.pretrained_path("mnist-gan"), trust_remote_code=True)
    ```

    `name` is one of `hfnets.PRETRAINED_MODELS`: mnist-mlp, mnist-cnn, mnist-gan, mnist-ddpm, char-gpt.
    """
    if name not in PRETRAINED_MODELS:
        raise ValueError(
            f"hfnets ships no model named {name!r}; the shipped models are {', '.join(PRETRAINED_MODELS)}."
        )
    shipped = available_pretrained()
    if name not in shipped:
        raise FileNotFoundError(
            f"The {name} model is not in this installation (it has: {', '.join(shipped) or 'none'}). Train it with "
            "its family's script in scripts/ (docs/pretrained.md has the commands), or load a Hub copy."
        )
    return str(find_resource("pretrained") / name)


SPACES_PACKAGE = "hfnets_spaces"  # the name `spaces/` is imported under, wherever this installation keeps it


def import_spaces(module: str):
    """A module of the demos' package `spaces/` (`"settings"`, `"gallery.app"`), imported as `hfnets_spaces.<module>`
    from wherever this installation keeps the package (its demos import each other relatively, as in a Space)."""
    if SPACES_PACKAGE not in sys.modules:
        folder = find_resource("spaces")
        spec = importlib.util.spec_from_file_location(
            SPACES_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[SPACES_PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{SPACES_PACKAGE}.{module}")
