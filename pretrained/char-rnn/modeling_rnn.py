"""A character-level recurrent language model: token embedding, stacked LSTM or GRU layers, linear output layer.

References: Karpathy's char-rnn (2015); Hochreiter & Schmidhuber 1997 (LSTM); Cho et al. 2014 (GRU). The recurrent
state of every layer travels through `generate(...)` in transformers' `DynamicCache` (one recurrent-state slot per
layer, as transformers' own state-space models carry theirs), so cached generation costs one step per new token.
Padded positions (left or right padding, `attention_mask` 0) do not touch the state: each row runs over its own
tokens only (a packed sequence), so a padded batch gives what each row gives alone.

This file travels with the weights (`trust_remote_code=True`): it imports only torch, transformers and its sibling
`configuration_rnn.py`.
"""

import os

import torch
from safetensors import SafetensorError
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_rnn import CharRnnConfig


class CharRnnPreTrainedModel(PreTrainedModel):
    config_class = CharRnnConfig
    base_model_prefix = "rnn"
    main_input_name = "input_ids"
    _is_stateful = True  # the cache holds states, not per-token keys and values: no assisted or contrastive search

    # Copied from hfnets.mlp.modeling_mlp.MnistMlpPreTrainedModel.from_pretrained
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """`PreTrainedModel.from_pretrained`, with clear messages for a folder that is not a whole saved model: one
        without `config.json` (empty, or a save or copy that stopped part-way) or with a damaged weights file."""
        folder = os.path.join(str(pretrained_model_name_or_path), kwargs.get("subfolder") or "").rstrip(os.sep)
        if kwargs.get("config") is None and os.path.isdir(folder) and not os.path.isfile(f"{folder}/config.json"):
            raise OSError(
                f"{folder} holds no config.json, so it is not a saved model (an empty folder, or a save or copy that "
                "stopped part-way?). Pass the folder `save_pretrained` wrote, or a Hub id."
            )
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        except SafetensorError as error:
            raise OSError(
                f"The weights file of {pretrained_model_name_or_path} is corrupt or truncated ({error}). "
                "Save or download the model again (an interrupted copy or download leaves such a file)."
            ) from error

    def _init_weights(self, module: nn.Module) -> None:
        bound = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.uniform_(module.weight, -bound, bound)
            if getattr(module, "bias", None) is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            for name, parameter in module.named_parameters():
                init.uniform_(parameter, -bound, bound) if name.startswith("weight") else init.zeros_(parameter)


def contiguous_rows(attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`(starts, lengths)` of each row's real tokens, which must be one run of 1s (left or right padding)."""
    mask = attention_mask.bool()
    lengths = mask.sum(-1)
    starts = mask.int().argmax(-1)
    positions = torch.arange(mask.shape[-1], device=mask.device)
    expected = (positions >= starts[:, None]) & (positions < (starts + lengths)[:, None])
    if not torch.equal(expected, mask) or bool((lengths == 0).any()):
        raise ValueError(
            "`attention_mask` must mark one run of real tokens per row (padding on the left or the right only), "
            "with at least one real token."
        )
    return starts, lengths


def shift_rows(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Each row of `x` (batch, seq, ...) rolled left by its own shift: `out[b, t] = x[b, (t + shifts[b]) % seq]`."""
    seq = x.shape[1]
    index = (torch.arange(seq, device=x.device)[None, :] + shifts[:, None]) % seq
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


class CharRnnForCausalLM(CharRnnPreTrainedModel, GenerationMixin):
    r"""
    A char-rnn language model: embedding, `num_layers` LSTM or GRU layers, a linear head.

    Example:

    ```python
    >>> from transformers import AutoTokenizer
    >>> from hfnets import CharRnnForCausalLM

    >>> tokenizer = AutoTokenizer.from_pretrained("path/to/char-rnn")
    >>> model = CharRnnForCausalLM.from_pretrained("path/to/char-rnn")
    >>> inputs = tokenizer("ROMEO:", return_tensors="pt")
    >>> output = model.generate(**inputs, max_new_tokens=200, do_sample=True, top_k=40)
    >>> print(tokenizer.decode(output[0]))
    ```
    """

    # Copied from hfnets.gpt.modeling_gpt.CharGptForCausalLM.generate
    def generate(self, inputs: torch.Tensor | None = None, *args, **kwargs):
        """`GenerationMixin.generate`. A character model has no start-of-text token: it continues a prompt of at
        least one character (an empty one, which would need such a token, is refused saying so)."""
        prompt = inputs if inputs is not None else kwargs.get("input_ids", kwargs.get("inputs_embeds"))
        generation_config = kwargs.get("generation_config") or self.generation_config
        if (prompt is None or prompt.shape[1] == 0) and generation_config.bos_token_id is None:
            raise ValueError(
                "Give a prompt of at least one character: this model writes on from a prompt and has no "
                'start-of-text token to begin from nothing (a line break, "\\n", is a good neutral start).'
            )
        return super().generate(inputs, *args, **kwargs)

    def __init__(self, config: CharRnnConfig):
        super().__init__(config)
        recurrent = nn.LSTM if config.rnn_type == "lstm" else nn.GRU
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            recurrent(config.hidden_size, config.hidden_size, batch_first=True) for _ in range(config.num_layers)
        )
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_word_embeddings:
            self._tied_weights_keys = {"lm_head.weight": "embedding.weight"}
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embedding = value

    def _state(self, cache: Cache | None, layer: int):
        """The layer's state in `cache`, in the form nn.LSTM / nn.GRU take it, or None (start from zeros).

        Read from the cache layer itself: `Cache.get_recurrent_state` answers None until a convolution state has been
        stored too (state-space models keep both), and a recurrent network has none. The cache keeps the batch first
        (batch, 1, hidden), as beam search reorders it; torch's recurrent layers take (1, batch, hidden)."""
        if cache is None or not cache.layers[layer].is_recurrent_states_initialized[0]:
            return None
        # A copy, not a view: the cache overwrites its tensors in place, which would corrupt a backward pass through
        # a state carried from an earlier step (truncated backpropagation through time).
        states = [
            tensor.transpose(0, 1).clone(memory_format=torch.contiguous_format)
            for tensor in cache.layers[layer].recurrent_states.values()
        ]
        return tuple(states) if self.config.rnn_type == "lstm" else states[0]

    def _keep_state(self, cache: Cache | None, layer: int, state) -> None:
        if cache is None:
            return
        for index, tensor in enumerate(state if isinstance(state, tuple) else (state,)):
            cache.update_recurrent_state(tensor.transpose(0, 1), layer, index)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Token ids; with a `cache`, only the tokens that follow the state it holds.
            cache (`Cache`, *optional*):
                The recurrent state of every layer after the tokens already read (a `DynamicCache`); updated in place.
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*):
                1 for real tokens, 0 for padding (one run of real tokens per row). Padded positions leave the state
                untouched and their outputs are zeros.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Targets for next-token prediction, usually `input_ids` itself (the shift happens inside); -100 is
                ignored.
            use_cache (`bool`, *optional*): create and return a cache when none is given.
            output_hidden_states (`bool`, *optional*): also return the embedding and every layer's outputs.
            logits_to_keep (`int`, *optional*, defaults to 0): logits of the last positions only (0: all).

        Returns:
            [`~transformers.modeling_outputs.CausalLMOutputWithPast`]: `logits`, `loss` with `labels`, the `cache`
            and, on request, `hidden_states`; a tuple with `return_dict=False`.
        """
        config = self.config
        use_cache = use_cache if use_cache is not None else (config.use_cache and not self.training)
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else config.return_dict
        if input_ids is None:
            raise ValueError("`input_ids` are required.")
        if input_ids.numel() and input_ids.device.type == "cpu":
            if input_ids.max() >= config.vocab_size or input_ids.min() < 0:
                raise ValueError(
                    f"`input_ids` holds ids outside [0, {config.vocab_size}): ids from {int(input_ids.min())} to "
                    f"{int(input_ids.max())}. Was the text encoded with this model's own tokenizer?"
                )
        if use_cache and cache is None:
            cache = DynamicCache(config=config)
        padded = attention_mask is not None and not bool(attention_mask.all())
        if padded:
            starts, lengths = contiguous_rows(attention_mask)

        hidden_states = self.drop(self.embedding(input_ids))
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for index, layer in enumerate(self.layers):
            state = self._state(cache, index)
            if padded:
                # Each row's real tokens moved to the front and read as a packed sequence of its own length.
                packed = pack_padded_sequence(
                    shift_rows(hidden_states, starts), lengths.cpu(), batch_first=True, enforce_sorted=False
                )
                output, state = layer(packed, state)
                output, _ = pad_packed_sequence(output, batch_first=True, total_length=hidden_states.shape[1])
                output = shift_rows(output, -starts)
            else:
                output, state = layer(hidden_states, state)
            self._keep_state(cache, index, state)
            hidden_states = output if index == len(self.layers) - 1 else self.drop(output)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)

        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(self.drop(hidden_states))
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=config.vocab_size, **kwargs)
        output = CausalLMOutputWithPast(
            loss=loss, logits=logits, cache=cache if use_cache else None, hidden_states=all_hidden_states
        )
        return output if return_dict else output.to_tuple()

    def prepare_inputs_for_generation(
        self, input_ids, cache=None, attention_mask=None, use_cache=None, is_first_iteration=False, **kwargs
    ):
        inputs = super().prepare_inputs_for_generation(
            input_ids,
            cache=cache,
            attention_mask=attention_mask,
            use_cache=use_cache,
            is_first_iteration=is_first_iteration,
            **kwargs,
        )
        if use_cache and not is_first_iteration:
            inputs["attention_mask"] = None  # one new, real token per row: the padding is already behind the state
        return inputs


# save_pretrained copies this file beside the weights, so the folder loads with trust_remote_code=True
CharRnnForCausalLM.register_for_auto_class("AutoModelForCausalLM")
