import json

import pytest
import torch
from transformers import AutoImageProcessor, AutoModelForImageClassification

from hfnets import MnistCnnConfig, MnistCnnForImageClassification, MnistMlpImageProcessor
from tests.helpers.isolated import run_without_hfnets


def tiny_model() -> MnistCnnForImageClassification:
    torch.manual_seed(0)
    return MnistCnnForImageClassification(MnistCnnConfig(conv_channels=[4, 8], hidden_size=16)).eval()


def test_logits_loss_and_features():
    model = tiny_model()
    labels = torch.tensor([1, 2, 3])
    outputs = model(torch.randn(3, 1, 28, 28), labels=labels, output_hidden_states=True)
    assert outputs.logits.shape == (3, 10)
    assert torch.allclose(outputs.loss, torch.nn.functional.cross_entropy(outputs.logits, labels))
    assert outputs.hidden_states[-1].shape == (3, 16)


def test_wrong_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`pixel_values` must be a tensor of shape \(batch_size, 1, 28, 28\)"):
        tiny_model()(torch.randn(3, 784))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 30}, "multiple of 4"),
        ({"conv_channels": [8]}, "two positive integers"),
        ({"dropout": 2}, "`dropout` must be a probability"),
    ],
)
def test_invalid_config_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MnistCnnConfig(**kwargs)


def test_save_load_auto_classes_and_loading_without_hfnets(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "judge")
    MnistMlpImageProcessor().save_pretrained(tmp_path / "judge")
    pixel_values = torch.randn(2, 1, 28, 28)
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path / "judge").eval()
    assert isinstance(loaded, MnistCnnForImageClassification)
    assert torch.equal(model(pixel_values).logits, loaded(pixel_values).logits)
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path / "judge"), MnistMlpImageProcessor)

    torch.save(pixel_values, tmp_path / "pixels.pt")
    result = run_without_hfnets(
        """
        import json, torch
        from transformers import AutoModelForImageClassification

        model = AutoModelForImageClassification.from_pretrained("judge", trust_remote_code=True).eval()
        print(json.dumps(model(torch.load("pixels.pt")).logits.tolist()))
        """,
        cwd=tmp_path,
    )
    remote = torch.tensor(json.loads(result.stdout.strip().splitlines()[-1]))
    assert torch.allclose(remote, model(pixel_values).logits, atol=1e-6)


def test_config_output_hidden_states_is_the_default():
    model = tiny_model()
    model.config.output_hidden_states = True
    outputs = model(torch.randn(2, 1, 28, 28))
    assert [tuple(h.shape) for h in outputs.hidden_states] == [(2, 8 * 7 * 7), (2, 16)]
    assert model(torch.randn(2, 1, 28, 28), output_hidden_states=False).hidden_states is None
