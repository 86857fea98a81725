"""The character-level recurrent language model (LSTM or GRU): configuration and causal language model. It reads
text with the GPT family's character tokenizer (`CharGptTokenizer`).

Each name is imported from its module on first use, so that the configuration alone does not import the model.
"""

from ..lazy import lazy_names

_NAMES = {
    "CharRnnConfig": "configuration_rnn",
    "CharRnnForCausalLM": "modeling_rnn",
    "CharRnnPreTrainedModel": "modeling_rnn",
}
__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
