"""The character-level GPT: configuration, causal language model and tokenizer.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

import importlib

_NAMES = {
    "CharGptConfig": "configuration_gpt",
    "CharGptTokenizer": "tokenization_gpt",
    "CharGptForCausalLM": "modeling_gpt",
    "CharGptModel": "modeling_gpt",
    "CharGptPreTrainedModel": "modeling_gpt",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
