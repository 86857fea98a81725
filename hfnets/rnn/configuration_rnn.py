"""Configuration of the character-level recurrent language model (LSTM or GRU), as in Karpathy's char-rnn.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

import hashlib
import json

from transformers import PretrainedConfig

RNN_TYPES = ("lstm", "gru")


class CharRnnConfig(PretrainedConfig):
    r"""
    Configuration of a [`CharRnnForCausalLM`]: a token embedding, `num_layers` stacked LSTM or GRU layers with dropout
    between them, and a linear output layer. Defaults give a char-rnn-sized model for CPUs.

    Args:
        vocab_size (`int`, *optional*, defaults to 67):
            Number of tokens (characters plus special tokens for a character tokenizer).
        rnn_type (`str`, *optional*, defaults to `"lstm"`):
            `"lstm"` (state: hidden and cell vectors) or `"gru"` (state: hidden vector).
        hidden_size (`int`, *optional*, defaults to 512):
            Width of the embedding and of each recurrent layer's state.
        num_layers (`int`, *optional*, defaults to 2):
            Number of stacked recurrent layers.
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the embedding and between layers during training.
        initializer_range (`float`, *optional*, defaults to 0.08):
            Weights are drawn uniformly from [-initializer_range, initializer_range], as in char-rnn.
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Share the input embedding and the output projection.
        vocab_fingerprint (`str`, *optional*):
            Fingerprint of the vocabulary the model was trained with ([`CharRnnConfig.fingerprint`] of the
            tokenizer's `get_vocab()`), so that [`CharRnnConfig.check_tokenizer`] can tell a tokenizer of another
            vocabulary of the same size.

    Example:

    ```python
    >>> from hfnets import CharRnnConfig, CharRnnForCausalLM

    >>> model = CharRnnForCausalLM(CharRnnConfig(vocab_size=67, rnn_type="gru", hidden_size=256, num_layers=3))
    ```
    """

    model_type = "hfnets-char-rnn"
    keys_to_ignore_at_inference = ["cache"]
    attribute_map = {"num_hidden_layers": "num_layers"}

    def __init__(
        self,
        vocab_size: int = 67,
        rnn_type: str = "lstm",
        hidden_size: int = 512,
        num_layers: int = 2,
        dropout: float = 0.0,
        initializer_range: float = 0.08,
        tie_word_embeddings: bool = False,
        use_cache: bool = True,
        vocab_fingerprint: str | None = None,
        **kwargs,
    ):
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"`rnn_type` must be one of {RNN_TYPES}, got {rnn_type!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a probability in [0, 1), got {dropout!r}.")
        self.vocab_size = vocab_size
        self.rnn_type = rnn_type
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.vocab_fingerprint = vocab_fingerprint
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)

    # Copied from hfnets.gpt.configuration_gpt.CharGptConfig.fingerprint
    @staticmethod
    def fingerprint(vocab: dict[str, int]) -> str:
        """A short digest of a token -> id mapping: equal for the same vocabulary, different otherwise."""
        canonical = json.dumps(sorted(vocab.items(), key=lambda item: item[1]), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    # Copied from hfnets.gpt.configuration_gpt.CharGptConfig.check_tokenizer
    def check_tokenizer(self, tokenizer) -> None:
        """Raise a `ValueError` when `tokenizer` does not encode text the way this model was trained to read it."""
        if len(tokenizer) > self.vocab_size:
            raise ValueError(
                f"The tokenizer has {len(tokenizer)} tokens but the model's vocabulary has {self.vocab_size}: they "
                "do not belong together. Load the tokenizer saved with the model."
            )
        if self.vocab_fingerprint is not None and self.fingerprint(tokenizer.get_vocab()) != self.vocab_fingerprint:
            raise ValueError(
                "The tokenizer's vocabulary is not the one this model was trained with (same size, other tokens or "
                "ids): its text would come out garbled. Load the tokenizer saved with the model."
            )

    # What transformers' `DynamicCache(config=...)` reads to hold a recurrent state per layer (not saved: derived).
    @property
    def layer_types(self) -> list[str]:
        return ["linear_attention"] * self.num_layers

    @property
    def number_of_conv_states(self) -> int:
        """States per layer: an LSTM's hidden and cell vectors, a GRU's hidden vector."""
        return 2 if self.rnn_type == "lstm" else 1


CharRnnConfig.register_for_auto_class()  # save_pretrained copies this file beside config.json
