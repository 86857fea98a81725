import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoImageProcessor, AutoModelForImageClassification

from hfnets import CnnConfig, CnnForImageClassification, MnistMlpImageProcessor
from tests.helpers.isolated import run_without_hfnets

DIGITS = {i: str(i) for i in range(10)}
# A folder as hfnets saved the MNIST judge before the CNN became one family: model type "hfnets-mnist-cnn" and that
# release's code files (its weights are written by the test).
LEGACY_FOLDER = Path(__file__).parent / "legacy_mnist_cnn"


def tiny_model() -> CnnForImageClassification:
    torch.manual_seed(0)
    return CnnForImageClassification(CnnConfig(conv_channels=[4, 8], hidden_size=16, id2label=DIGITS)).eval()


def logits_without_hfnets(folder, name: str, pixel_values: torch.Tensor) -> torch.Tensor:
    """The logits of the model saved in `folder/name`, loaded through its own code in a process without hfnets."""
    torch.save(pixel_values, folder / "pixels.pt")
    result = run_without_hfnets(
        f"""
        import json, torch
        from transformers import AutoModelForImageClassification

        model = AutoModelForImageClassification.from_pretrained("{name}", trust_remote_code=True).eval()
        print(json.dumps(model(torch.load("pixels.pt")).logits.tolist()))
        """,
        cwd=folder,
    )
    return torch.tensor(json.loads(result.stdout.strip().splitlines()[-1]))


def test_logits_loss_and_features():
    model = tiny_model()
    labels = torch.tensor([1, 2, 3])
    outputs = model(torch.randn(3, 1, 28, 28), labels=labels, output_hidden_states=True)
    assert outputs.logits.shape == (3, 10)
    assert torch.allclose(outputs.loss, torch.nn.functional.cross_entropy(outputs.logits, labels))
    assert outputs.hidden_states[-1].shape == (3, 16)


@pytest.mark.parametrize("pooling", ["flatten", "max"])
def test_hidden_states_hold_each_blocks_feature_maps_as_the_layers_compute_them(pooling):
    """What an explainer draws: `hidden_states` begins with every convolution block's feature maps, equal to what a
    forward hook on that block sees, then the flattened features and the hidden layer."""
    torch.manual_seed(0)
    config = CnnConfig(image_size=32, conv_channels=[4, 8, 6], hidden_size=16, pooling=pooling)
    model = CnnForImageClassification(config).eval()
    seen = []
    blocks = [layer for layer in model.features if isinstance(layer, torch.nn.Sequential)]
    hooks = [block.register_forward_hook(lambda module, args, output: seen.append(output)) for block in blocks]
    with torch.no_grad():
        outputs = model(torch.randn(2, 1, 32, 32), output_hidden_states=True)
    for hook in hooks:
        hook.remove()
    assert len(outputs.hidden_states) == 3 + 2
    for maps, hooked, channels, side in zip(outputs.hidden_states, seen, (4, 8, 6), (16, 8, 4), strict=False):
        assert maps.shape == (2, channels, side, side)
        torch.testing.assert_close(maps, hooked)
    flat = 6 * 4 * 4 if pooling == "flatten" else 6
    assert outputs.hidden_states[3].shape == (2, flat) and outputs.hidden_states[4].shape == (2, 16)


def test_wrong_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`pixel_values` must be a tensor of shape \(batch_size, 1, 28, 28\)"):
        tiny_model()(torch.randn(3, 784))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 30}, "multiple of 4"),
        ({"image_size": 28, "conv_channels": [8, 8, 8]}, "multiple of 8"),
        ({"conv_channels": []}, "one or more positive integers"),
        ({"conv_channels": [8, 0]}, "one or more positive integers"),
        ({"dropout": 2}, "`dropout` must be a probability"),
    ],
)
def test_invalid_config_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CnnConfig(**kwargs)


def test_save_load_auto_classes_and_loading_without_hfnets(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "judge")
    MnistMlpImageProcessor().save_pretrained(tmp_path / "judge")
    pixel_values = torch.randn(2, 1, 28, 28)
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path / "judge").eval()
    assert isinstance(loaded, CnnForImageClassification) and loaded.config.model_type == "hfnets-cnn"
    assert torch.equal(model(pixel_values).logits, loaded(pixel_values).logits)
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path / "judge"), MnistMlpImageProcessor)

    remote = logits_without_hfnets(tmp_path, "judge", pixel_values)
    assert torch.allclose(remote, model(pixel_values).logits, atol=1e-6)


def test_config_output_hidden_states_is_the_default():
    model = tiny_model()
    model.config.output_hidden_states = True
    outputs = model(torch.randn(2, 1, 28, 28))
    assert [tuple(h.shape) for h in outputs.hidden_states] == [(2, 4, 14, 14), (2, 8, 7, 7), (2, 8 * 7 * 7), (2, 16)]
    assert model(torch.randn(2, 1, 28, 28), output_hidden_states=False).hidden_states is None


def test_any_number_of_blocks_rgb_and_class_names():
    from hfnets import CnnConfig, CnnForImageClassification

    config = CnnConfig(
        image_size=32, num_channels=3, conv_channels=[4, 8, 16], hidden_size=8, id2label={0: "cat", 1: "dog"}
    )
    model = CnnForImageClassification(config).eval()
    outputs = model(torch.randn(2, 3, 32, 32), output_hidden_states=True)
    assert outputs.logits.shape == (2, 2) and outputs.hidden_states[-2].shape == (2, 16 * 4 * 4)
    assert model.config.label2id == {"cat": 0, "dog": 1}
    with pytest.raises(ValueError, match=r"shape \(batch_size, 3, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32))


def test_a_judge_saved_before_the_cnn_was_one_family_still_loads_and_resaves_as_the_one_type(tmp_path):
    """Folders saved as "hfnets-mnist-cnn" load into the one CNN class (digits as classes) with hfnets, through their
    own code without it, and take the one model type when saved again."""
    old = tmp_path / "judge"
    shutil.copytree(LEGACY_FOLDER, old)
    tiny_model().save_pretrained(tmp_path / "weights")
    shutil.copy(tmp_path / "weights" / "model.safetensors", old)
    assert json.loads((old / "config.json").read_text())["model_type"] == "hfnets-mnist-cnn"
    pixel_values = torch.randn(2, 1, 28, 28)
    expected = tiny_model()(pixel_values).logits

    loaded = AutoModelForImageClassification.from_pretrained(old).eval()
    assert type(loaded) is CnnForImageClassification and loaded.config.id2label[3] == "3"
    torch.testing.assert_close(loaded(pixel_values).logits, expected)
    loaded.save_pretrained(tmp_path / "resaved")
    config = json.loads((tmp_path / "resaved" / "config.json").read_text())
    assert config["model_type"] == "hfnets-cnn" and config["architectures"] == ["CnnForImageClassification"]

    remote = logits_without_hfnets(tmp_path, "judge", pixel_values)
    torch.testing.assert_close(remote, expected)


def test_the_image_processor_reads_any_picture_as_the_models_square(tmp_path):
    import numpy as np
    from PIL import Image

    from hfnets import CnnImageProcessor

    processor = CnnImageProcessor(image_size=16, num_channels=3, image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.2, 0.2])
    wide = Image.fromarray(np.full((30, 90, 3), 255, dtype=np.uint8))
    gray = Image.fromarray(np.zeros((40, 40), dtype=np.uint8))
    transparent = Image.fromarray(np.zeros((20, 20, 4), dtype=np.uint8))  # fully transparent: white
    pixels = processor([wide, gray, transparent], return_tensors="pt")["pixel_values"]
    assert pixels.shape == (3, 3, 16, 16)
    torch.testing.assert_close(pixels[0, :, 0, 0], (1 - torch.tensor([0.5, 0.4, 0.3])) / 0.2)
    torch.testing.assert_close(pixels[1, :, 0, 0], (0 - torch.tensor([0.5, 0.4, 0.3])) / 0.2)
    torch.testing.assert_close(pixels[2], pixels[0])

    processor.save_pretrained(tmp_path)
    assert AutoImageProcessor.from_pretrained(tmp_path).image_mean == [0.5, 0.4, 0.3]
    with pytest.raises(ValueError, match="more than 50,000,000"):
        processor(Image.new("L", (10_000, 6_000)))
    with pytest.raises(ValueError, match=r"\(height, width, 3 or 4 channels\)"):
        processor(np.zeros((8, 8, 2), dtype=np.uint8))
