"""A small MNIST CNN classifier: the judge of generated digits.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

from ..lazy import lazy_names

_NAMES = {
    "MnistCnnConfig": "configuration_cnn",
    "MnistCnnForImageClassification": "modeling_cnn",
    "MnistCnnPreTrainedModel": "modeling_cnn",
}
__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
