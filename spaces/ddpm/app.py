"""Handwritten digits from the class-conditional diffusion model, with the denoising shown as it happens, and inside
views: a drawn digit noised step by step (the forward process) and one image traced through the sampler.

Runs from a source checkout (`python -m spaces.ddpm.app`) and as a Hugging Face Space (`hfnets space spaces/ddpm`).
It shows MODEL_ID (else DDPM_MODEL_ID, else the model that ships with hfnets), loaded with `trust_remote_code=True`;
drawings are read by the image processor of the MNIST classifier MLP_MODEL_ID (else the shipped MLP).
"""

import gradio as gr

from ..inputs import MAX_SEED, load_processor
from ..lanes import LongRunLane
from ..settings import no_model, space_models
from .forward import forward_section
from .reverse import reverse_section
from .sample import MAX_IMAGES, SAMPLER_NOTES, SAMPLERS, load, make_sampler


def build_demo(model_id: str, mlp_id: str | None = None) -> gr.Blocks:
    """The diffusion model's page for the pipeline `model_id`; drawings are read by the image processor of `mlp_id`,
    an hfnets MNIST classifier."""
    pipe = load(model_id)
    lane = LongRunLane("long sampling", "ask for fewer steps or images (DPM-Solver needs 25 steps)")
    sample = make_sampler(pipe, lane)
    num_classes = pipe.num_classes or 0
    choices = ["random"] + [str(d) for d in range(num_classes)]
    default_guidance = float(pipe.config.get("guidance_scale") or 1.0)
    with gr.Blocks(title="MNIST diffusion") as demo:
        gr.Markdown(
            "# Digits from a diffusion model\nA class-conditional DDPM (diffusers' UNet2DModel) with classifier-free "
            "guidance. Watch the noise turn into digits; DPM-Solver needs 25 steps where DDPM takes hundreds."
        )
        with gr.Row():
            digit = gr.Dropdown(choices, value=choices[min(4, len(choices) - 1)], label="Digit")
            guidance = gr.Slider(
                1,
                10,
                value=default_guidance,
                step=0.05,
                label="Guidance scale (1: the digit asked for, no extra push)",
            )
            sampler = gr.Dropdown(list(SAMPLERS), value="DPM-Solver", label="Sampler")
        with gr.Row():
            steps = gr.Slider(1, 1000, value=25, step=1, label="Steps")
            count = gr.Slider(1, MAX_IMAGES, value=8, step=1, label="Images")
            seed = gr.Number(value=0, minimum=0, maximum=MAX_SEED, precision=0, label="Seed")
        sampler_note = gr.Markdown(SAMPLER_NOTES["DPM-Solver"], elem_id="sampler-note")
        button = gr.Button("Generate", variant="primary", elem_id="generate")
        output = gr.Image(label="Samples", type="filepath", height=420, elem_id="samples")
        status = gr.Textbox(label="Status", interactive=False, elem_id="status")
        sampler.change(
            lambda name: (gr.Slider(maximum=SAMPLERS[name][2], value=SAMPLERS[name][1]), SAMPLER_NOTES[name]),
            sampler,
            [steps, sampler_note],
            api_name=False,
        )
        gr.Examples(
            [["3", default_guidance, "DPM-Solver", 25, 8, 0], ["random", 1.0, "DDIM", 50, 8, 1]],
            inputs=[digit, guidance, sampler, steps, count, seed],
        )
        button.click(
            sample,
            [digit, guidance, sampler, steps, count, seed],
            [output, status],
            api_name="generate",
            preprocess=False,
        )
        with gr.Accordion("Inside the diffusion: step by step", open=False, elem_id="ddpm-inside"):
            forward_section(pipe, load_processor(mlp_id), digit, seed)
            reverse_section(pipe, lane, digit, guidance, seed)
    return demo


def main() -> None:
    model_id, mlp_id = space_models("ddpm")
    if model_id is None:
        raise SystemExit(no_model("ddpm"))
    build_demo(model_id, mlp_id).queue(default_concurrency_limit=4, max_size=64).launch()


if __name__ == "__main__":
    main()
