"""Handwritten digits from the class-conditional GAN: pick a digit and a seed, walk the latent space, or look inside:
the training epoch by epoch and what the discriminator believes.

Runs from a source checkout (`python -m spaces.gan.app`) and as a Hugging Face Space (`hfnets space spaces/gan`).
It shows MODEL_ID (else GAN_MODEL_ID, else the GAN that ships with hfnets), loaded with `trust_remote_code=True`;
drawings are read by the image processor of the MNIST classifier MLP_MODEL_ID (else the shipped MLP).
"""

import gradio as gr

from ..inputs import MAX_SEED, load_processor
from ..settings import no_model, space_models
from .generate import MAX_IMAGES, digit_choices, load, make_functions
from .inside import inside_tab
from .live import live_tab


def build_demo(model_id: str, mlp_id: str | None = None) -> gr.Blocks:
    """The GAN's page for the pipeline `model_id`; drawings are read by the image processor of `mlp_id`, an hfnets
    MNIST classifier (without one, the discriminator's view of a drawing says so)."""
    pipe = load(model_id)
    generate, interpolate = make_functions(pipe)
    choices = digit_choices(pipe.num_classes or 0) if pipe.num_classes else ["random"]
    with gr.Blocks(title="MNIST GAN") as demo:
        gr.Markdown("# Digits from a GAN\nA class-conditional generator: one forward pass per image.")
        with gr.Tab("Generate"):
            with gr.Row():
                digit = gr.Dropdown(choices, value=choices[min(1, len(choices) - 1)], label="Digit")
                seed = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
                count = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="Images")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
            output = gr.Image(label="Samples", type="filepath", height=420, elem_id="samples")
            gr.Examples([["7", 0, 16], ["random", 42, 32]], inputs=[digit, seed, count])
            button.click(generate, [digit, seed, count], output, api_name="generate", preprocess=False)
        with gr.Tab("Interpolate"):
            with gr.Row():
                strip_digit = gr.Dropdown(choices, value=choices[-1], label="Digit")
                start = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="From seed")
                end = gr.Number(value=1, minimum=0, maximum=MAX_SEED, precision=0, label="To seed")
                steps = gr.Slider(2, 16, value=8, step=1, label="Images")
            strip_button = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
            strip = gr.Image(label="Latent walk", type="filepath", elem_id="strip")
            strip_button.click(
                interpolate, [strip_digit, start, end, steps], strip, api_name="interpolate", preprocess=False
            )
        inside_tab(pipe, model_id, load_processor(mlp_id), choices)
        with gr.Tab("Train one live"):
            live_tab()
    return demo


def main() -> None:
    model_id, mlp_id = space_models("gan")
    if model_id is None:
        raise SystemExit(no_model("gan"))
    build_demo(model_id, mlp_id).queue(default_concurrency_limit=4, max_size=64).launch()


if __name__ == "__main__":
    main()
