import pytest

from hfnets import MnistMlpConfig


def test_defaults_are_the_textbook_network():
    config = MnistMlpConfig()
    assert config.hidden_sizes == [128]
    assert config.hidden_act == "relu"
    assert config.num_labels == 10
    assert config.input_size == 784
    assert config.id2label[3] == "3"


def test_save_and_load_round_trip(tmp_path):
    config = MnistMlpConfig(hidden_sizes=[64, 32], hidden_act="tanh", dropout=0.1, id2label={0: "cat", 1: "dog"})
    config.save_pretrained(tmp_path)
    loaded = MnistMlpConfig.from_pretrained(tmp_path)
    assert loaded.hidden_sizes == [64, 32]
    assert loaded.hidden_act == "tanh"
    assert loaded.dropout == 0.1
    assert loaded.num_labels == 2
    assert loaded.id2label == {0: "cat", 1: "dog"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_act": "swish"}, "`hidden_act` must be one of"),
        ({"hidden_sizes": [128, 0]}, "`hidden_sizes` must be a list of positive integers"),
        ({"hidden_sizes": [12.5]}, "`hidden_sizes` must be a list of positive integers"),
        ({"dropout": 1.0}, "`dropout` must be a probability"),
        ({"dropout": -0.1}, "`dropout` must be a probability"),
        ({"image_size": 0}, "`image_size` must be a positive integer"),
        ({"num_channels": 0}, "`num_channels` must be a positive integer"),
        ({"num_labels": 1}, "`num_labels` must be an integer >= 2"),
    ],
)
def test_invalid_values_are_rejected_with_the_allowed_ones(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MnistMlpConfig(**kwargs)


def test_num_labels_that_disagrees_with_id2label_is_refused():
    with pytest.raises(ValueError, match="`num_labels=3` but `id2label` names 10 classes"):
        MnistMlpConfig(num_labels=3, id2label={i: str(i) for i in range(10)})
    assert MnistMlpConfig(num_labels=3).num_labels == 3
