"""A small MNIST CNN classifier: the judge of generated digits.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

import importlib

_NAMES = {
    "MnistCnnConfig": "configuration_cnn",
    "MnistCnnForImageClassification": "modeling_cnn",
    "MnistCnnPreTrainedModel": "modeling_cnn",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
