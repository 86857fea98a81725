"""A model folder that is damaged (truncated weights, a missing vocabulary) is refused with a message that names the
problem and the fix, wherever hfnets' own code is on the path: with hfnets installed and through the folder's own code
files alike."""

import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForImageClassification, AutoTokenizer

from hfnets import (
    CharGptConfig,
    CharGptForCausalLM,
    CharGptTokenizer,
    CharRnnConfig,
    CharRnnForCausalLM,
    CnnConfig,
    CnnForImageClassification,
    MnistMlpConfig,
    MnistMlpForImageClassification,
)
from tests.helpers.isolated import run_without_hfnets


def tiny(family: str):
    torch.manual_seed(0)
    if family == "gpt":
        return CharGptForCausalLM(CharGptConfig(vocab_size=12, n_layer=1, n_head=2, n_embd=8, n_positions=16))
    if family == "rnn":
        return CharRnnForCausalLM(CharRnnConfig(vocab_size=12, hidden_size=8, num_layers=1))
    return CnnForImageClassification(CnnConfig(conv_channels=[4], hidden_size=8, num_labels=3))


@pytest.mark.parametrize(
    ("family", "auto"),
    [("gpt", AutoModelForCausalLM), ("rnn", AutoModelForCausalLM), ("cnn", AutoModelForImageClassification)],
)
def test_truncated_weights_are_named_as_such(family, auto, tmp_path):
    model = tiny(family)
    model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for loader in (type(model), auto):
        with pytest.raises(OSError, match=f"The weights file of {tmp_path} is corrupt or truncated"):
            loader.from_pretrained(tmp_path)
    result = run_without_hfnets(
        f"""
        from transformers import {auto.__name__}

        try:
            {auto.__name__}.from_pretrained("{tmp_path}", trust_remote_code=True)
        except OSError as error:
            print(error)
        """,
        cwd=tmp_path,
    )
    assert "is corrupt or truncated" in result.stdout


def test_a_language_model_folder_without_its_vocabulary_says_so(tmp_path):
    tokenizer = CharGptTokenizer.from_text("Shall I compare thee", save_directory=str(tmp_path / "model"))
    config = CharGptConfig(vocab_size=len(tokenizer), n_layer=1, n_head=2, n_embd=8, n_positions=16)
    CharGptForCausalLM(config).save_pretrained(tmp_path / "model")
    shutil.copytree(tmp_path / "model", tmp_path / "broken")
    (tmp_path / "broken" / "vocab.json").unlink()
    assert len(AutoTokenizer.from_pretrained(tmp_path / "model")) > 2  # the complete folder loads
    with pytest.raises(ValueError, match="No vocab.json .* the folder is incomplete"):
        AutoTokenizer.from_pretrained(tmp_path / "broken")


@pytest.mark.parametrize("family", ["gpt", "rnn", "cnn", "mlp"])
def test_a_folder_without_its_config_is_named_as_such(family, tmp_path):
    """An empty folder, or one a save or copy left without config.json: the family's own class says so."""
    model = tiny(family) if family != "mlp" else MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[4]))
    (tmp_path / "empty").mkdir()
    model.save_pretrained(tmp_path / "partial")
    (tmp_path / "partial" / "config.json").unlink()
    for folder in ("empty", "partial"):
        with pytest.raises(OSError, match=f"{tmp_path / folder} holds no config.json, so it is not a saved model"):
            type(model).from_pretrained(tmp_path / folder)
    model.save_pretrained(tmp_path / "whole")  # with config= given, no config.json is needed
    (tmp_path / "whole" / "config.json").unlink()
    loaded = type(model).from_pretrained(tmp_path / "whole", config=model.config)
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )
