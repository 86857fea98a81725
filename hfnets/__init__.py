"""hfnets: classic neural-network families as Hugging Face models.

Importing `hfnets` registers every family with the transformers Auto classes, so `AutoConfig`,
`AutoModelForImageClassification`, `AutoImageProcessor` and `transformers.pipeline(...)` load saved hfnets models.
`register_for_auto_class` makes `save_pretrained` also copy the modeling files next to the weights, so the same
folder loads with `trust_remote_code=True` where hfnets is not installed.
"""

from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForImageClassification,
    AutoTokenizer,
)

from .cnn import MnistCnnConfig, MnistCnnForImageClassification, MnistCnnPreTrainedModel
from .ddpm import GuidedDDPMPipeline
from .gan import GanDiscriminator, GanGenerator, GanPipeline
from .gpt import CharGptConfig, CharGptForCausalLM, CharGptModel, CharGptPreTrainedModel, CharGptTokenizer
from .mlp import (
    DigitClassificationPipeline,
    MnistMlpConfig,
    MnistMlpForImageClassification,
    MnistMlpImageProcessor,
    MnistMlpPreTrainedModel,
)
from .resources import PRETRAINED_MODELS, pretrained_path

__version__ = "0.1.0"

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

__all__ = [
    "DigitClassificationPipeline",
    "GanDiscriminator",
    "GanGenerator",
    "GanPipeline",
    "GuidedDDPMPipeline",
    "CharGptConfig",
    "CharGptForCausalLM",
    "CharGptModel",
    "CharGptPreTrainedModel",
    "CharGptTokenizer",
    "MnistCnnConfig",
    "MnistCnnForImageClassification",
    "MnistCnnPreTrainedModel",
    "MnistMlpConfig",
    "MnistMlpForImageClassification",
    "MnistMlpImageProcessor",
    "MnistMlpPreTrainedModel",
    "PRETRAINED_MODELS",
    "pretrained_path",
    "__version__",
]
