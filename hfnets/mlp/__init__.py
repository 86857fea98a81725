"""The MNIST multilayer perceptron: configuration, model, image processor and image-classification pipeline.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

from ..lazy import lazy_names

_NAMES = {
    "MnistMlpConfig": "configuration_mlp",
    "MnistMlpImageProcessor": "image_processing_mlp",
    "NoDigitError": "image_processing_mlp",
    "MnistMlpForImageClassification": "modeling_mlp",
    "MnistMlpPreTrainedModel": "modeling_mlp",
    "DigitClassificationPipeline": "pipeline_mlp",
}
__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
