"""The convolutional image classifier (grayscale or RGB, any size its image processor makes); the MNIST digit
classifier that judges generated digits is one.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

from ..lazy import lazy_names

_NAMES = {
    "CnnConfig": "configuration_cnn",
    "CnnImageProcessor": "image_processing_cnn",
    "CnnForImageClassification": "modeling_cnn",
    "CnnPreTrainedModel": "modeling_cnn",
}
__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
