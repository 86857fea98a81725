"""The MNIST multilayer perceptron: configuration, model, image processor and image-classification pipeline."""

from .configuration_mlp import MnistMlpConfig
from .image_processing_mlp import MnistMlpImageProcessor, NoDigitError
from .modeling_mlp import MnistMlpForImageClassification, MnistMlpPreTrainedModel
from .pipeline_mlp import DigitClassificationPipeline

__all__ = [
    "DigitClassificationPipeline",
    "MnistMlpConfig",
    "MnistMlpForImageClassification",
    "MnistMlpImageProcessor",
    "MnistMlpPreTrainedModel",
    "NoDigitError",
]
