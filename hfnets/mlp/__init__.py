"""The MNIST multilayer perceptron: configuration, model and image processor."""

from .configuration_mlp import MnistMlpConfig
from .image_processing_mlp import MnistMlpImageProcessor
from .modeling_mlp import MnistMlpForImageClassification, MnistMlpPreTrainedModel

__all__ = ["MnistMlpConfig", "MnistMlpForImageClassification", "MnistMlpImageProcessor", "MnistMlpPreTrainedModel"]
