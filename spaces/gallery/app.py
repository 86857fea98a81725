"""The hfnets demos in one app, a tab each.

Runs locally (`python spaces/gallery/app.py`, or `hfnets demo`, which also provides models) and as a Hugging Face
Space. Each tab's model comes from an environment variable (a Hub id or a local folder): MLP_MODEL_ID (the MLP
tab, the Playground's starting network, and the image processor with which the GAN's and the diffusion's inside views
read drawings), CNN_MODEL_ID, GAN_MODEL_ID, DDPM_MODEL_ID, GPT_MODEL_ID and RNN_MODEL_ID (the text tab shows the GPT
and the RNN side by side); on a Space, variables in its settings. Where one is unset, the model that ships with
hfnets, when the app runs from the repository or an installed hfnets. A tab without a model says how to give it
one. The demos' code is read from the sibling folders (`../<name>/app.py`) or, in a Space, from `apps/<name>.py`
beside this file.
"""

import importlib.util
import os
from pathlib import Path

import gradio as gr

HERE = Path(__file__).resolve().parent
# tab title, demo folder, key in `model_ids`, environment variable naming its model, the demo's function that finds
# the shipped model, what the model is (for a tab without one)
DEMOS = [
    ("Digits: MLP", "mnist-classifier", "mnist-classifier", "MLP_MODEL_ID", "shipped_model", "MLP digit classifier"),
    ("Digits: CNN", "mnist-classifier", "mnist-cnn", "CNN_MODEL_ID", "shipped_cnn", "CNN digit classifier"),
    ("GAN", "gan", "gan", "GAN_MODEL_ID", "shipped_model", "GAN"),
    ("Diffusion", "ddpm", "ddpm", "DDPM_MODEL_ID", "shipped_model", "diffusion"),
    ("Text: GPT and RNN", "gpt", "gpt", "GPT_MODEL_ID", "shipped_model", "GPT"),
    ("Playground: see an MLP learn", "playground", "mnist-classifier", "MLP_MODEL_ID", "shipped_model", "MLP"),
]
# Second models of a tab: demo folder -> (build_demo's argument, key in `model_ids`, environment variable). The GAN's
# and the DDPM's inside views read drawings with the MLP tab's image processor.
SECOND_MODELS = {
    "gpt": ("rnn_model_id", "char-rnn", "RNN_MODEL_ID"),
    "gan": ("processor_id", "mnist-classifier", "MLP_MODEL_ID"),
    "ddpm": ("processor_id", "mnist-classifier", "MLP_MODEL_ID"),
}


def demo_module(name: str):
    """The demo's app.py as a module, from `apps/<name>.py` (in a Space) or the sibling folder (in the repository)."""
    for path in (HERE / "apps" / f"{name}.py", HERE.parent / name / "app.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location(f"hfnets_demo_{name.replace('-', '_')}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError(f"No code for the {name} demo in {HERE / 'apps'} or {HERE.parent / name}.")


def missing_model_tab(kind: str, variable: str) -> gr.Blocks:
    flag = variable.split("_")[0].lower()  # DDPM_MODEL_ID -> hfnets demo --ddpm
    with gr.Blocks() as tab:
        gr.Markdown(
            f"### No {kind} model here yet\n\n"
            f"Give this tab a model with `hfnets demo --{flag} FOLDER_OR_HUB_ID`: a folder saved by the training "
            f"script (`accelerate launch scripts/train_{flag}.py --output_dir my-{flag}`), or a Hub model id. On a "
            f"Space, set the variable `{variable}` in its settings."
        )
    return tab


MAX_FILE_SIZE = "10mb"  # larger uploads are refused by Gradio before they are stored


def build_gallery(model_ids: dict[str, str | None] | None = None) -> gr.Blocks:
    """`model_ids` maps a tab's key (its demo folder's name; "mnist-cnn" for the CNN's digits tab and "char-rnn" for
    the text tab's second model) to its model; the rest come from the environment or the shipped models."""
    model_ids = model_ids or {}
    demos, titles = [], []
    modules = {}
    for title, name, key, variable, shipped, kind in DEMOS:
        module = modules[name] = modules.get(name) or demo_module(name)
        model_id = model_ids.get(key) or os.environ.get(variable) or getattr(module, shipped)()
        extra = {}
        if name in SECOND_MODELS:
            argument, second_key, second_variable = SECOND_MODELS[name]
            extra[argument] = model_ids.get(second_key) or os.environ.get(second_variable)  # else the demo's default
        demos.append(module.build_demo(model_id, **extra) if model_id else missing_model_tab(kind, variable))
        titles.append(title)
    return gr.TabbedInterface(demos, titles, title="hfnets: classic neural networks the Hugging Face way")


if __name__ == "__main__":
    build_gallery().queue(default_concurrency_limit=2, max_size=64).launch(max_file_size=MAX_FILE_SIZE)
