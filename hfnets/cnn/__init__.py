"""A small MNIST CNN classifier: the judge of generated digits."""

from .configuration_cnn import MnistCnnConfig
from .modeling_cnn import MnistCnnForImageClassification, MnistCnnPreTrainedModel

__all__ = ["MnistCnnConfig", "MnistCnnForImageClassification", "MnistCnnPreTrainedModel"]
