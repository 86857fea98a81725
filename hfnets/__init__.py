"""hfnets: classic neural-network families as Hugging Face models.

Importing `hfnets` registers the transformers families (MLP, CNN, GPT) with the Auto classes, so `AutoConfig`,
`AutoModelForImageClassification`, `AutoModelForCausalLM`, `AutoTokenizer`, `AutoImageProcessor` and
`transformers.pipeline(...)` load saved hfnets models. `register_for_auto_class` makes `save_pretrained` also copy
the modeling files next to the weights, so the same folder loads with `trust_remote_code=True` where hfnets is not
installed. The diffusers families (GAN, DDPM) and the rest of the library are imported on first use, as
transformers' own lazy module does: `import hfnets` does not pay for diffusers.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the submodule that defines it, imported when the name is first used.
_LAZY_NAMES = {
    "DigitClassificationPipeline": "mlp",
    "MnistMlpConfig": "mlp",
    "MnistMlpForImageClassification": "mlp",
    "MnistMlpImageProcessor": "mlp",
    "MnistMlpPreTrainedModel": "mlp",
    "MnistCnnConfig": "cnn",
    "MnistCnnForImageClassification": "cnn",
    "MnistCnnPreTrainedModel": "cnn",
    "CharGptConfig": "gpt",
    "CharGptForCausalLM": "gpt",
    "CharGptModel": "gpt",
    "CharGptPreTrainedModel": "gpt",
    "CharGptTokenizer": "gpt",
    "GanDiscriminator": "gan",
    "GanGenerator": "gan",
    "GanPipeline": "gan",
    "DdpmPipeline": "ddpm",
    "PRETRAINED_MODELS": "resources",
    "pretrained_path": "resources",
}

__all__ = [*_LAZY_NAMES, "__version__"]


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


def _register_auto_classes() -> None:
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForImageClassification,
        AutoTokenizer,
    )

    from .cnn import MnistCnnConfig, MnistCnnForImageClassification
    from .gpt import CharGptConfig, CharGptForCausalLM, CharGptModel, CharGptTokenizer
    from .mlp import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor

    AutoConfig.register(MnistMlpConfig.model_type, MnistMlpConfig)
    AutoModel.register(MnistMlpConfig, MnistMlpForImageClassification)
    AutoModelForImageClassification.register(MnistMlpConfig, MnistMlpForImageClassification)
    AutoImageProcessor.register(MnistMlpConfig, slow_image_processor_class=MnistMlpImageProcessor)
    MnistMlpConfig.register_for_auto_class()
    MnistMlpForImageClassification.register_for_auto_class("AutoModelForImageClassification")
    MnistMlpImageProcessor.register_for_auto_class("AutoImageProcessor")

    AutoConfig.register(MnistCnnConfig.model_type, MnistCnnConfig)
    AutoModel.register(MnistCnnConfig, MnistCnnForImageClassification)
    AutoModelForImageClassification.register(MnistCnnConfig, MnistCnnForImageClassification)
    AutoImageProcessor.register(MnistCnnConfig, slow_image_processor_class=MnistMlpImageProcessor)
    MnistCnnConfig.register_for_auto_class()
    MnistCnnForImageClassification.register_for_auto_class("AutoModelForImageClassification")

    AutoConfig.register(CharGptConfig.model_type, CharGptConfig)
    AutoModel.register(CharGptConfig, CharGptModel)
    AutoModelForCausalLM.register(CharGptConfig, CharGptForCausalLM)
    AutoTokenizer.register(CharGptConfig, slow_tokenizer_class=CharGptTokenizer)
    CharGptConfig.register_for_auto_class()
    CharGptModel.register_for_auto_class("AutoModel")
    CharGptForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    CharGptTokenizer.register_for_auto_class("AutoTokenizer")


_register_auto_classes()
