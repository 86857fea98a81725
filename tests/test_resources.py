"""`hfnets.pretrained_path`: the shipped models by name, for any `from_pretrained`."""

import pytest

import hfnets
from hfnets import resources


def test_unknown_names_are_refused_with_the_list_of_models():
    with pytest.raises(ValueError, match="mnist-mlp, mnist-cnn, mnist-gan, mnist-ddpm, char-gpt"):
        hfnets.pretrained_path("mnist-vae")


def test_a_shipped_model_is_found_in_a_wheel_layout_first(tmp_path, monkeypatch):
    package, checkout = tmp_path / "site-packages" / "hfnets", tmp_path / "checkout"
    (package / "pretrained" / "mnist-gan").mkdir(parents=True)
    (package / "pretrained" / "mnist-gan" / "model_index.json").write_text("{}")
    (checkout / "pretrained" / "mnist-gan").mkdir(parents=True)
    monkeypatch.setattr(resources, "_ROOTS", (package, checkout))
    assert hfnets.pretrained_path("mnist-gan") == str(package / "pretrained" / "mnist-gan")
    assert resources.available_pretrained() == ["mnist-gan"]
    with pytest.raises(FileNotFoundError, match="it has: mnist-gan"):
        hfnets.pretrained_path("char-gpt")
