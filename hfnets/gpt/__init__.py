"""The character-level GPT: configuration, causal language model and tokenizer."""

from .configuration_gpt import CharGptConfig
from .modeling_gpt import CharGptForCausalLM, CharGptModel, CharGptPreTrainedModel
from .tokenization_gpt import CharGptTokenizer

__all__ = ["CharGptConfig", "CharGptForCausalLM", "CharGptModel", "CharGptPreTrainedModel", "CharGptTokenizer"]
