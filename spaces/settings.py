"""Which model each demo shows: one table for `hfnets demo`, the gallery and every Space alone, and the only code
that reads the environment, once, when an app starts.

A model is a Hub id or a folder written by `save_pretrained`. Each family's comes from, in this order: the command
line (`hfnets demo --gan FOLDER`), its variable (`GAN_MODEL_ID`; on a Space, a variable in its settings), the model
hfnets ships (where the app runs from a source checkout or an installed hfnets), or none. A Space alone also reads
`MODEL_ID`, the model it is about.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The models hfnets ships: pretrained/ in a source checkout, or inside an installed hfnets; absent on a Space.
SHIPPED = Path(__file__).resolve().parents[1] / "pretrained"
OWN_VARIABLE = "MODEL_ID"  # a Space alone: the model it is about
DATASET_VARIABLE = "DATASET"  # the Playground: the digits its networks train on (a Hub id or a local copy)
DEFAULT_DATASET = "ylecun/mnist"


@dataclass(frozen=True)
class Family:
    variable: str  # the environment variable that names its model
    shipped: str  # the name of the model hfnets ships (pretrained/<shipped>)
    script: str  # the training script that makes one
    kind: str  # what it is, in words


FAMILIES = {
    "mlp": Family("MLP_MODEL_ID", "mnist-mlp", "train_mlp.py", "MLP digit classifier"),
    "cnn": Family("CNN_MODEL_ID", "mnist-cnn", "train_cnn.py", "CNN digit classifier"),
    "gan": Family("GAN_MODEL_ID", "mnist-gan", "train_gan.py", "GAN"),
    "ddpm": Family("DDPM_MODEL_ID", "mnist-ddpm", "train_ddpm.py", "diffusion"),
    "gpt": Family("GPT_MODEL_ID", "char-gpt", "train_gpt.py", "GPT"),
    "rnn": Family("RNN_MODEL_ID", "char-rnn", "train_rnn.py", "RNN"),
}
# The families of each demo's models, in the order its `build_demo` takes them: the first is the one a Space of that
# demo alone is about (its MODEL_ID; the classifier's may be an MLP or a CNN), the others are shown beside it (the
# MLP beside a CNN; the MLP's image processor reads the GAN's and the diffusion's drawings). The gallery takes them
# all, as a mapping.
DEMOS = {
    "classifier": ("mlp", "mlp"),
    "gan": ("gan", "mlp"),
    "ddpm": ("ddpm", "mlp"),
    "gpt": ("gpt",),
    "rnn": ("rnn",),
    "playground": ("mlp",),
    "gallery": tuple(FAMILIES),
}


def shipped_model(family: str) -> str | None:
    """The folder of the model hfnets ships for `family`, where it is here."""
    folder = SHIPPED / FAMILIES[family].shipped
    return str(folder) if (folder / "config.json").is_file() or (folder / "model_index.json").is_file() else None


def model_ids(given: Mapping[str, str | None] | None = None, environ: Mapping[str, str] = os.environ) -> dict:
    """Every family's model (or None): given (command-line flags), else its variable, else the shipped one."""
    given = given or {}
    return {
        family: given.get(family) or environ.get(spec.variable) or shipped_model(family)
        for family, spec in FAMILIES.items()
    }


def space_models(demo: str, environ: Mapping[str, str] = os.environ) -> list[str | None]:
    """The models a Space of `demo` alone shows, in its `build_demo`'s order: its own (MODEL_ID, else its family's),
    then those beside it."""
    own, *beside = DEMOS[demo]
    models = model_ids(environ=environ)
    return [environ.get(OWN_VARIABLE) or models[own], *(models[family] for family in beside)]


def space_variables(demo: str) -> list[str]:
    """The variables that give a Space of `demo` its models (the gallery has no model of its own: no MODEL_ID)."""
    own = [] if demo == "gallery" else [OWN_VARIABLE]
    return own + sorted({FAMILIES[family].variable for family in DEMOS[demo]})


def playground_dataset(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(DATASET_VARIABLE) or DEFAULT_DATASET


def no_model(family: str) -> str:
    """What to do where a demo has no model to show."""
    variable, script = FAMILIES[family].variable, FAMILIES[family].script
    return (
        f"No {FAMILIES[family].kind} model to show. Give one: `hfnets demo --{family} FOLDER_OR_HUB_ID` (a folder "
        f"saved by `accelerate launch scripts/{script} --output_dir my-{family}`, or a Hub model id), or set "
        f"{variable} (a Space alone: {OWN_VARIABLE}) to it; on a Space, as a variable in its settings."
    )
