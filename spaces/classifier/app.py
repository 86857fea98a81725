"""Draw a digit (or upload a photo of one) and watch an hfnets classifier read it: the 784-128-10 MLP, or the CNN with
its feature maps beside the MLP's hidden layer.

Runs from a source checkout (`python -m spaces.classifier.app`) and as a Hugging Face Space (`hfnets space
spaces/classifier`). It shows MODEL_ID (an MLP or a CNN; else MLP_MODEL_ID, else the MLP that ships with hfnets), and
beside a CNN the MLP of MLP_MODEL_ID (else the shipped one); they load with `trust_remote_code=True`, so hfnets need
not be installed.
"""

from pathlib import Path

import gradio as gr

from ..inputs import digit_pad
from ..settings import no_model, space_models
from .classify import check_upload, describe, load, make_classifier
from .cnn_inside import inside_tab

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_FILE_SIZE = "10mb"  # larger uploads are refused by Gradio before they are stored


def build_demo(model_id: str, mlp_id: str | None = None) -> gr.Blocks:
    """The classifier's page for `model_id`; a CNN gets its inside view, beside the MLP `mlp_id` where given."""
    processor, model = load(model_id)
    classify, classify_drawing = make_classifier(processor, model)
    examples = sorted(str(path) for path in EXAMPLES_DIR.glob("*.png"))
    with gr.Blocks(title="MNIST digit classifier") as demo:
        gr.Markdown(
            f"# Handwritten digit classifier\n{describe(model.config)} Draw a digit anywhere on the canvas, or upload "
            "a photo: the image processor crops, scales and centers it as MNIST digits are."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    sketchpad = digit_pad("canvas", 400)
                    draw_button = gr.Button("Classify the drawing", variant="primary", elem_id="classify-drawing")
                with gr.Tab("Upload"):
                    upload = gr.Image(label="Photo of a digit", type="filepath", sources=["upload"])
                    upload_button = gr.Button("Classify the photo", variant="primary", elem_id="classify-photo")
                    gr.Examples(examples, inputs=upload)
            with gr.Column():
                label = gr.Label(label="Prediction", num_top_classes=3, elem_id="prediction")
                seen = gr.Image(label="What the network sees (28x28)", type="filepath", elem_id="seen")
                hidden = gr.Image(
                    label="Hidden layer activations (one cell per unit)", type="filepath", height=260, elem_id="hidden"
                )
        outputs = [label, seen, hidden]
        draw_button.click(classify_drawing, sketchpad, outputs, api_name="classify_drawing")
        if hasattr(model.config, "conv_channels"):
            mlp = load(mlp_id) if mlp_id and mlp_id != model_id else None
            inside_tab(processor, model, mlp, sketchpad)
        upload_button.click(classify, upload, outputs, api_name="classify", preprocess=False, validator=check_upload)
    return demo


def main() -> None:
    model_id, mlp_id = space_models("classifier")
    if model_id is None:
        raise SystemExit(no_model("mlp"))
    build_demo(model_id, mlp_id).queue(default_concurrency_limit=4, max_size=64).launch(max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
