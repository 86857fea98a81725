import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

from hfnets import MnistMlpConfig, MnistMlpForImageClassification
from hfnets.mlp.configuration_mlp import SUPPORTED_ACTIVATIONS


def tiny_model(**kwargs) -> MnistMlpForImageClassification:
    torch.manual_seed(0)
    return MnistMlpForImageClassification(MnistMlpConfig(**kwargs)).eval()


def test_default_network_is_784_128_10():
    model = tiny_model()
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(128, 784), (128,), (10, 128), (10,)]
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 28, 28), (4, 784)])
def test_logits_shape_for_each_accepted_input_layout(shape):
    logits = tiny_model()(torch.randn(shape)).logits
    assert logits.shape == (4, 10)


def test_loss_is_cross_entropy_of_the_logits():
    model = tiny_model()
    pixel_values, labels = torch.randn(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5])
    outputs = model(pixel_values, labels=labels)
    assert torch.allclose(outputs.loss, torch.nn.functional.cross_entropy(outputs.logits, labels))
    assert model(pixel_values).loss is None


def test_hidden_states_expose_each_layer():
    outputs = tiny_model(hidden_sizes=[32, 16])(torch.randn(2, 1, 28, 28), output_hidden_states=True)
    assert [tuple(h.shape) for h in outputs.hidden_states] == [(2, 32), (2, 16)]
    assert (outputs.hidden_states[0] >= 0).all()  # after ReLU
    # As in transformers' models, the first hidden state is computed by the model, so gradients reach it.
    first = outputs.hidden_states[0]
    first.retain_grad()
    outputs.logits.sum().backward()
    assert first.grad is not None and first.grad.shape == (2, 32)


def test_tuple_output_when_return_dict_is_false():
    loss, logits = tiny_model()(torch.randn(2, 784), labels=torch.tensor([1, 2]), return_dict=False)
    assert loss.dim() == 0 and logits.shape == (2, 10)


@pytest.mark.parametrize("activation", SUPPORTED_ACTIVATIONS)
def test_each_activation_trains(activation):
    model = tiny_model(hidden_sizes=[16], hidden_act=activation).train()
    torch.manual_seed(1)
    pixel_values, labels = torch.randn(32, 784), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model(pixel_values, labels=labels).loss.item()
    for _ in range(20):
        loss = model(pixel_values, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < first * 0.5


def test_dropout_is_active_in_training_only():
    model = tiny_model(dropout=0.5)
    pixel_values = torch.randn(2, 784)
    assert torch.equal(model(pixel_values).logits, model(pixel_values).logits)
    model.train()
    assert not torch.equal(model(pixel_values).logits, model(pixel_values).logits)


def test_save_and_load_give_identical_logits(tmp_path):
    model = tiny_model(hidden_sizes=[32], hidden_act="gelu")
    pixel_values = torch.randn(3, 1, 28, 28)
    model.save_pretrained(tmp_path)
    loaded = MnistMlpForImageClassification.from_pretrained(tmp_path).eval()
    assert torch.equal(model(pixel_values).logits, loaded(pixel_values).logits)


def test_auto_classes_return_the_hfnets_model(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), MnistMlpConfig)
    assert isinstance(AutoModelForImageClassification.from_pretrained(tmp_path), MnistMlpForImageClassification)
    assert isinstance(AutoModel.from_pretrained(tmp_path), MnistMlpForImageClassification)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 3, 28, 28), (2, 100)])
def test_wrong_input_shape_is_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"`pixel_values` must have shape \(batch_size, 1, 28, 28\)"):
        tiny_model()(torch.randn(shape))


def test_non_tensor_input_is_a_clear_error():
    with pytest.raises(TypeError, match="must be a torch.Tensor, got list"):
        tiny_model()([[0.0] * 784])


def test_truncated_weights_file_is_a_clear_error(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for loader in (MnistMlpForImageClassification, AutoModelForImageClassification):
        with pytest.raises(OSError, match=f"The weights file of {tmp_path} is corrupt or truncated"):
            loader.from_pretrained(tmp_path)


def test_float_targets_follow_the_config_problem_type():
    # transformers' classification loss: mean squared error for "regression", binary cross-entropy per class for
    # "multi_label_classification".
    pixel_values = torch.randn(4, 784)
    targets = torch.rand(4, 10)
    for problem_type, expected in (
        ("regression", torch.nn.functional.mse_loss),
        ("multi_label_classification", torch.nn.functional.binary_cross_entropy_with_logits),
    ):
        model = tiny_model(problem_type=problem_type)
        outputs = model(pixel_values, labels=targets)
        torch.testing.assert_close(outputs.loss, expected(outputs.logits, targets))


@pytest.mark.parametrize("model_class", ["mlp", "cnn"])
def test_from_pretrained_with_another_num_labels_gives_a_new_head(tmp_path, model_class):
    # The fine-tuning idiom of transformers: keep the body, start a new classifier of N classes.
    from hfnets import CnnConfig, CnnForImageClassification

    digits = {i: str(i) for i in range(10)}
    model = tiny_model() if model_class == "mlp" else CnnForImageClassification(CnnConfig(id2label=digits))
    model.save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        type(model).from_pretrained(tmp_path, num_labels=3)
    new = type(model).from_pretrained(tmp_path, num_labels=3, ignore_mismatched_sizes=True)
    assert new.config.num_labels == 3 and new.config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert new(torch.randn(2, 1, 28, 28)).logits.shape == (2, 3)
    body = next(iter(model.state_dict()))  # the first layer's weights are kept
    torch.testing.assert_close(new.state_dict()[body], model.state_dict()[body])
