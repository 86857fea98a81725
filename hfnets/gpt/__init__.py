"""The character-level GPT: configuration, causal language model and tokenizer.

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

from ..lazy import lazy_names

_NAMES = {
    "CharGptConfig": "configuration_gpt",
    "CharGptTokenizer": "tokenization_gpt",
    "CharGptForCausalLM": "modeling_gpt",
    "CharGptModel": "modeling_gpt",
    "CharGptPreTrainedModel": "modeling_gpt",
}
__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
