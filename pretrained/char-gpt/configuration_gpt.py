"""Configuration of the character-level GPT: a decoder-only transformer with GPT-2 style hyperparameter names.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

import hashlib
import json

from transformers import PretrainedConfig

POSITION_EMBEDDING_TYPES = ("learned", "rotary")


class CharGptConfig(PretrainedConfig):
    r"""
    Configuration of a [`CharGptForCausalLM`]: pre-LayerNorm transformer blocks with causal self-attention, as in
    GPT-2 and nanoGPT. Defaults give nanoGPT's small character-level model for CPUs.

    Args:
        vocab_size (`int`, *optional*, defaults to 67):
            Number of tokens (characters plus special tokens for a character tokenizer).
        n_positions (`int`, *optional*, defaults to 64):
            Context length: the most tokens the model attends over.
        n_embd (`int`, *optional*, defaults to 128):
            Width of the residual stream.
        n_layer (`int`, *optional*, defaults to 4):
            Number of transformer blocks.
        n_head (`int`, *optional*, defaults to 4):
            Number of attention heads; must divide `n_embd`.
        n_inner (`int`, *optional*):
            Width of the MLP's hidden layer (default `4 * n_embd`).
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout on embeddings, attention weights and residual branches during training.
        position_embedding_type (`str`, *optional*, defaults to `"rotary"`):
            `"learned"` (GPT-2's absolute position table) or `"rotary"` (RoPE applied to queries and keys).
        rope_theta (`float`, *optional*, defaults to 10000.0):
            Base of the rotary frequencies.
        layer_norm_epsilon (`float`, *optional*, defaults to 1e-5):
            Epsilon of the LayerNorms.
        bias (`bool`, *optional*, defaults to `False`):
            Biases in the linear layers and LayerNorms (nanoGPT: no bias is slightly better and faster).
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the weight initialization; residual projections are scaled by
            `1 / sqrt(2 * n_layer)` as in GPT-2.
        tie_word_embeddings (`bool`, *optional*, defaults to `True`):
            Share the input embedding and the output projection.
        vocab_fingerprint (`str`, *optional*):
            Fingerprint of the vocabulary the model was trained with ([`CharGptConfig.fingerprint`] of the
            tokenizer's `get_vocab()`), so that [`CharGptConfig.check_tokenizer`] can tell a tokenizer of another
            vocabulary of the same size.

    Example:

    ```python
    >>> from hfnets import CharGptConfig, CharGptForCausalLM

    >>> config = CharGptConfig(vocab_size=67, n_layer=6, n_head=6, n_embd=384, n_positions=256, dropout=0.2)
    >>> model = CharGptForCausalLM(config)
    ```
    """

    model_type = "hfnets-char-gpt"
    keys_to_ignore_at_inference = ["cache"]
    attribute_map = {
        "hidden_size": "n_embd",
        "num_hidden_layers": "n_layer",
        "num_attention_heads": "n_head",
        "max_position_embeddings": "n_positions",
    }

    def __init__(
        self,
        vocab_size: int = 67,
        n_positions: int = 64,
        n_embd: int = 128,
        n_layer: int = 4,
        n_head: int = 4,
        n_inner: int | None = None,
        dropout: float = 0.0,
        position_embedding_type: str = "rotary",
        rope_theta: float = 10000.0,
        layer_norm_epsilon: float = 1e-5,
        bias: bool = False,
        initializer_range: float = 0.02,
        tie_word_embeddings: bool = True,
        use_cache: bool = True,
        vocab_fingerprint: str | None = None,
        **kwargs,
    ):
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_positions", n_positions),
            ("n_embd", n_embd),
            ("n_layer", n_layer),
            ("n_head", n_head),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if n_embd % n_head != 0:
            raise ValueError(f"`n_embd` ({n_embd}) must be divisible by `n_head` ({n_head}).")
        if position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ValueError(
                f"`position_embedding_type` must be one of {POSITION_EMBEDDING_TYPES}, "
                f"got {position_embedding_type!r}."
            )
        if position_embedding_type == "rotary" and (n_embd // n_head) % 2 != 0:
            raise ValueError(f"Rotary embeddings need an even head size, got n_embd / n_head = {n_embd // n_head}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a probability in [0, 1), got {dropout!r}.")
        if n_inner is not None and (not isinstance(n_inner, int) or n_inner < 1):
            raise ValueError(f"`n_inner` must be a positive integer or None, got {n_inner!r}.")

        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.dropout = float(dropout)
        self.position_embedding_type = position_embedding_type
        self.rope_theta = float(rope_theta)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.bias = bias
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.vocab_fingerprint = vocab_fingerprint
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)

    @staticmethod
    def fingerprint(vocab: dict[str, int]) -> str:
        """A short digest of a token -> id mapping: equal for the same vocabulary, different otherwise."""
        canonical = json.dumps(sorted(vocab.items(), key=lambda item: item[1]), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

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


CharGptConfig.register_for_auto_class()  # save_pretrained copies this file beside config.json
