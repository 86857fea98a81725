"""A saved MLP folder loads with stock transformers and trust_remote_code=True where hfnets is not installed."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hfnets import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor
from hfnets.mlp import NoDigitError
from tests.helpers.drawing import draw_digit
from tests.helpers.isolated import run_without_hfnets


def test_saved_folder_loads_without_hfnets(tmp_path):
    model_dir = tmp_path / "mnist-mlp"
    torch.manual_seed(0)
    model = MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[32])).eval()
    processor = MnistMlpImageProcessor()
    model.save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    for name in ("configuration_mlp.py", "modeling_mlp.py", "image_processing_mlp.py"):
        assert (model_dir / name).is_file()
    assert json.loads((model_dir / "config.json").read_text())["auto_map"] == {
        "AutoConfig": "configuration_mlp.MnistMlpConfig",
        "AutoModelForImageClassification": "modeling_mlp.MnistMlpForImageClassification",
    }

    drawing = np.asarray(draw_digit(7))
    np.save(tmp_path / "drawing.npy", drawing)
    with torch.no_grad():
        expected = model(**processor(drawing, return_tensors="pt")).logits
    expected_scores = torch.softmax(expected, -1)[0]

    result = run_without_hfnets(
        """
        import json, numpy as np, torch
        from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

        model = AutoModelForImageClassification.from_pretrained("mnist-mlp", trust_remote_code=True).eval()
        processor = AutoImageProcessor.from_pretrained("mnist-mlp", trust_remote_code=True)
        drawing = np.load("drawing.npy")
        with torch.no_grad():
            logits = model(**processor(drawing, return_tensors="pt")).logits
        classifier = pipeline("image-classification", model="mnist-mlp", trust_remote_code=True)
        top = classifier(drawing, top_k=10)
        print(json.dumps({"logits": logits.tolist(), "top": top, "module": type(model).__module__}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["module"].startswith("transformers_modules.")
    assert torch.allclose(torch.tensor(output["logits"]), expected, atol=1e-6)
    scores = {int(entry["label"]): entry["score"] for entry in output["top"]}
    assert np.allclose([scores[i] for i in range(10)], expected_scores.numpy(), atol=1e-5)


def test_a_folder_saved_through_the_pipeline_classifies_transparent_drawings_with_stock_transformers(tmp_path):
    """transformers' own image-classification pipeline flattens a transparent drawing to black; the pipeline class
    the folder names in config.json hands it to the processor intact, with or without hfnets."""
    from hfnets import DigitClassificationPipeline

    model_dir = tmp_path / "mnist-mlp"
    torch.manual_seed(0)
    model = MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[32])).eval()
    processor = MnistMlpImageProcessor()
    DigitClassificationPipeline(model=model, image_processor=processor).save_pretrained(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    assert config["custom_pipelines"]["image-classification"]["impl"] == "pipeline_mlp.DigitClassificationPipeline"
    assert (model_dir / "pipeline_mlp.py").is_file()

    drawing = draw_digit(4)  # black ink on a transparent canvas
    drawing.save(tmp_path / "drawing.png")
    with torch.no_grad():
        expected = torch.softmax(model(**processor(drawing, return_tensors="pt")).logits, -1)[0]
    with pytest.raises(NoDigitError):  # what the stock pipeline would hand over: black strokes on black
        processor(drawing.convert("RGB"))

    result = run_without_hfnets(
        """
        import json
        from PIL import Image
        from transformers import pipeline

        classifier = pipeline("image-classification", model="mnist-mlp", trust_remote_code=True)
        drawing = Image.open("drawing.png")
        print(json.dumps({
            "class": type(classifier).__name__,
            "pil": classifier(drawing, top_k=10),
            "path": classifier("drawing.png", top_k=10),
            "inferred_task": type(pipeline(model="mnist-mlp", trust_remote_code=True)).__name__,
        }))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["class"] == output["inferred_task"] == "DigitClassificationPipeline"
    for answer in (output["pil"], output["path"]):
        scores = {int(entry["label"]): entry["score"] for entry in answer}
        assert np.allclose([scores[i] for i in range(10)], expected.numpy(), atol=1e-5)


def test_the_pipeline_names_unreadable_input(tmp_path):
    from hfnets import DigitClassificationPipeline

    model = MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[8])).eval()
    classifier = DigitClassificationPipeline(model=model, image_processor=MnistMlpImageProcessor())
    (tmp_path / "notes.txt").write_text("not an image")
    for source in (str(tmp_path / "notes.txt"), "no-such-file.png"):
        with pytest.raises(ValueError, match="Could not read an image"):
            classifier(source)


def test_one_bad_image_in_a_list_is_named(tmp_path):
    """A list with one image that cannot be classified fails saying which one, not with the image's error alone."""
    from hfnets import DigitClassificationPipeline

    model = MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[8])).eval()
    classifier = DigitClassificationPipeline(model=model, image_processor=MnistMlpImageProcessor())
    blank = Image.new("RGBA", (64, 64))  # fully transparent: no digit
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"Image 1 of the 3 given: No digit found"):
        classifier([draw_digit(4), blank, draw_digit(7)])
    with pytest.raises(ValueError, match=r"Image 2 of the 3 given: Could not read an image"):
        classifier([draw_digit(4), draw_digit(7), str(tmp_path / "notes.txt")])
    assert len(classifier([draw_digit(4), draw_digit(7)])) == 2  # all readable: answered as before
