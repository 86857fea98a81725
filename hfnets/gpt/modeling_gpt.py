"""A GPT-style causal language model: token (+ learned position) embeddings, pre-LayerNorm blocks of causal
self-attention and MLP, a final LayerNorm and an output projection tied to the token embedding.

References: Radford et al. 2019 (GPT-2); Su et al. 2021 (RoFormer, rotary position embeddings); Karpathy's nanoGPT.
Attention runs through `torch.nn.functional.scaled_dot_product_attention` (flash or memory-efficient kernels where
available), or explicitly (`attn_implementation="eager"`, or when the attention weights are asked for with
`output_attentions=True`); the KV cache is transformers' `DynamicCache`, so `generate(...)` works as for any
transformers model, and the `output_*` and `return_dict` options behave as in transformers' own models.

This file travels with the weights (`trust_remote_code=True`): it imports only torch, transformers and its sibling
`configuration_gpt.py`.
"""

import math
import os

import torch
from safetensors import SafetensorError
from torch import nn
from torch.nn import functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_gpt import CharGptConfig


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the last dimension's two halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles, each (batch, 1, seq, head_dim), for RoFormer eq. 34."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, device=position_ids.device, dtype=torch.float32) / head_dim)
    angles = position_ids[..., None].float() * inv_freq  # (batch, seq, head_dim / 2)
    angles = torch.cat((angles, angles), dim=-1)[:, None]  # (batch, 1, seq, head_dim)
    return angles.cos(), angles.sin()


class CharGptAttention(nn.Module):
    """Multi-head causal self-attention with an optional KV cache; returns (output, attention weights or None)."""

    def __init__(self, config: CharGptConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        hidden_states: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor] | None,
        attention_mask: torch.Tensor | None,
        cache: Cache | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, width = hidden_states.shape
        # (batch, seq, 3 * width) -> 3 x (batch, n_head, seq, head_dim)
        q, k, v = self.qkv(hidden_states).view(batch, seq, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if rotary is not None:
            cos, sin = rotary
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # all keys and values so far: (batch, n_head, past + seq, hd)
        dropout = self.attn_dropout if self.training else 0.0
        weights = None
        if output_attentions or self.config._attn_implementation == "eager":
            # softmax(q k^T / sqrt(head_dim)) v, keeping the weights: (batch, n_head, seq, past + seq)
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
            if attention_mask is None and seq > 1:  # no cache and no padding: plain causal
                attention_mask = torch.ones(seq, k.shape[-2], dtype=torch.bool, device=q.device).tril()
            if attention_mask is not None:
                scores = scores.masked_fill(~attention_mask, float("-inf"))
            weights = F.dropout(scores.float().softmax(dim=-1).to(q.dtype), p=dropout, training=self.training)
            y = weights @ v
        else:
            # Without a mask the whole square is causal (no cache, no padding); one new token attends to everything.
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attention_mask, dropout_p=dropout, is_causal=attention_mask is None and seq > 1
            )
        y = y.transpose(1, 2).reshape(batch, seq, width)  # re-assemble the heads
        return self.resid_dropout(self.proj(y)), weights


class CharGptMLP(nn.Module):
    def __init__(self, config: CharGptConfig):
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.fc = nn.Linear(config.n_embd, inner, bias=config.bias)
        self.proj = nn.Linear(inner, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(hidden_states))))


class CharGptBlock(GradientCheckpointingLayer):
    """x + attn(ln(x)), then x + mlp(ln(x)): the pre-LayerNorm residual block of GPT-2."""

    def __init__(self, config: CharGptConfig, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CharGptAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = CharGptMLP(config)

    def forward(self, hidden_states, rotary=None, attention_mask=None, cache=None, output_attentions=False):
        attended, _ = self.attn(self.ln_1(hidden_states), rotary, attention_mask, cache, output_attentions)
        hidden_states = hidden_states + attended
        return hidden_states + self.mlp(self.ln_2(hidden_states))


class CharGptPreTrainedModel(PreTrainedModel):
    config_class = CharGptConfig
    base_model_prefix = "transformer"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["CharGptBlock"]
    _supports_sdpa = True
    # What `output_hidden_states` / `output_attentions` collect (transformers' `capture_outputs` hooks these modules):
    # every block's input and the final output; each attention's weights.
    _can_record_outputs = {
        "hidden_states": CharGptBlock,
        "attentions": OutputRecorder(CharGptAttention, index=1),
    }

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
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        # GPT-2: scale the residual projections by 1/sqrt(N), N = 2 residual branches per block.
        if isinstance(module, (CharGptAttention, CharGptMLP)):
            init.normal_(module.proj.weight, mean=0.0, std=std / math.sqrt(2 * self.config.n_layer))


class CharGptModel(CharGptPreTrainedModel):
    """The transformer without its language-model head: returns the final hidden states."""

    def __init__(self, config: CharGptConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = (
            nn.Embedding(config.n_positions, config.n_embd) if config.position_embedding_type == "learned" else None
        )
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(CharGptBlock(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    @capture_outputs
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Token ids; with a `cache`, only the tokens not yet in it.
            cache (`Cache`, *optional*):
                Keys and values of the tokens already seen (a `DynamicCache`); filled in place.
            attention_mask (`torch.Tensor` of shape `(batch_size, past_len + seq_len)`, *optional*):
                1 for real tokens, 0 for padding (left padding for batched generation).
            position_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Positions; by default counted from the first non-padding token.
            use_cache (`bool`, *optional*): create and return a cache when none is given.
            output_hidden_states (`bool`, *optional*): also return every block's input and the final output
                (`n_layer + 1` tensors); defaults to `config.output_hidden_states`.
            output_attentions (`bool`, *optional*): also return each block's attention weights, (batch, n_head,
                seq_len, past_len + seq_len); defaults to `config.output_attentions`.
            return_dict (`bool`, *optional*): `False` returns a plain tuple; defaults to `config.return_dict`.
        """
        config = self.config
        if input_ids is None:
            raise ValueError("`input_ids` is required: a LongTensor of shape (batch_size, seq_len).")
        if input_ids.dim() != 2:
            raise ValueError(f"`input_ids` must have shape (batch_size, seq_len), got {tuple(input_ids.shape)}.")
        batch, seq = input_ids.shape
        if seq == 0:
            raise ValueError(
                "`input_ids` is empty: give at least one token (an empty prompt has nothing to continue)."
            )
        use_cache = use_cache if use_cache is not None else (config.use_cache and not self.training)
        if use_cache and cache is None:
            cache = DynamicCache(config=config)
        past = cache.get_seq_length() if cache is not None else 0
        if past + seq > config.n_positions:
            raise ValueError(
                f"The sequence is {past + seq} tokens long ({past} cached + {seq} new) but the model's context is "
                f"n_positions={config.n_positions}. Shorten the prompt (keep its last {config.n_positions} tokens) "
                "or lower max_new_tokens so that prompt + new tokens fit."
            )

        if position_ids is None:
            if attention_mask is not None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -seq:]
            else:
                position_ids = torch.arange(past, past + seq, device=input_ids.device).expand(batch, seq)
        hidden_states = self.wte(input_ids)  # (batch, seq, n_embd)
        rotary = None
        if self.wpe is not None:
            hidden_states = hidden_states + self.wpe(position_ids)
        else:
            rotary = rotary_cos_sin(position_ids, config.n_embd // config.n_head, config.rope_theta)
            rotary = (rotary[0].to(hidden_states.dtype), rotary[1].to(hidden_states.dtype))
        hidden_states = self.drop(hidden_states)
        mask = self._attention_mask(attention_mask, batch, seq, past, input_ids.device)
        output_attentions = kwargs.get("output_attentions", config.output_attentions)

        for block in self.h:
            hidden_states = block(hidden_states, rotary, mask, cache, output_attentions)
        hidden_states = self.ln_f(hidden_states)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, cache=cache if use_cache else None)

    @staticmethod
    def _attention_mask(attention_mask, batch: int, seq: int, past: int, device) -> torch.Tensor | None:
        """Boolean (batch, 1, seq, past + seq) mask, True where a query may attend; None when plain causal works."""
        total = past + seq
        if attention_mask is None:
            if past == 0 or seq == 1:
                return None  # SDPA's is_causal (or no mask at all for a single new token)
            return torch.ones(seq, total, dtype=torch.bool, device=device).tril(diagonal=past)
        if attention_mask.shape != (batch, total):
            raise ValueError(
                f"`attention_mask` must have shape (batch_size, past + seq_len) = {(batch, total)}, "
                f"got {tuple(attention_mask.shape)}."
            )
        causal = torch.ones(seq, total, dtype=torch.bool, device=device).tril(diagonal=past)
        mask = causal[None, None] & attention_mask[:, None, None, :].bool()
        # A padding query (left padding) may see no key at all; let it see everything instead of producing NaN.
        # Its output is never used.
        return mask | ~mask.any(dim=-1, keepdim=True)


class CharGptForCausalLM(CharGptPreTrainedModel, GenerationMixin):
    r"""
    A GPT-style language model with a head tied to its token embedding: [`CharGptModel`] + `lm_head`.

    Example:

    ```python
    >>> from transformers import AutoTokenizer
    >>> from hfnets import CharGptForCausalLM

    >>> tokenizer = AutoTokenizer.from_pretrained("path/to/char-gpt")
    >>> model = CharGptForCausalLM.from_pretrained("path/to/char-gpt")
    >>> inputs = tokenizer("ROMEO:", return_tensors="pt")
    >>> output = model.generate(**inputs, max_new_tokens=50, do_sample=True, top_k=40)
    >>> print(tokenizer.decode(output[0]))
    ```
    """

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

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

    def __init__(self, config: CharGptConfig):
        super().__init__(config)
        self.transformer = CharGptModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def _validate_generated_length(self, generation_config, input_ids_length, has_default_max_length):
        """`generate`'s length checks, plus the context: refuse before generating rather than fail midway."""
        super()._validate_generated_length(generation_config, input_ids_length, has_default_max_length)
        context = self.config.n_positions
        if generation_config.max_length > context:
            raise ValueError(
                f"The prompt ({input_ids_length} tokens) plus the new tokens would be {generation_config.max_length} "
                f"tokens, past the model's context of n_positions={context}. Lower max_new_tokens to at most "
                f"{max(context - input_ids_length, 0)}, or keep the prompt's last tokens only."
            )

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            input_ids, cache, attention_mask, position_ids, use_cache, output_hidden_states, output_attentions:
                As for [`CharGptModel.forward`].
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Targets for next-token prediction, usually `input_ids` itself: the logits at position `i` are scored
                against `labels[:, i + 1]` (the shift happens inside). Positions set to -100 are ignored.
            logits_to_keep (`int`, *optional*, defaults to 0):
                Compute logits for the last `logits_to_keep` positions only (0: all), as `generate` asks.

        Returns:
            [`~transformers.modeling_outputs.CausalLMOutputWithPast`]: `logits` (batch, seq, vocab_size), `loss`
            with `labels`, the updated `cache` and, on request, `hidden_states` and `attentions`; a tuple of the
            fields that are set with `return_dict=False`.
        """
        vocab_size = self.config.vocab_size
        if input_ids is not None and input_ids.numel() and input_ids.device.type == "cpu":
            # An id past the embedding table would otherwise fail deep inside torch. Checked on the CPU only: on an
            # accelerator the check would force a host sync every step (there torch reports a device-side assert).
            if input_ids.max() >= vocab_size or input_ids.min() < 0:
                raise ValueError(
                    f"`input_ids` holds ids outside [0, {vocab_size}): ids from {int(input_ids.min())} to "
                    f"{int(input_ids.max())}. Was the text encoded with this model's own tokenizer?"
                )
        outputs = self.transformer(
            input_ids,
            cache=cache,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)  # (batch, seq, vocab_size)

        loss = None
        if labels is not None:
            # transformers' causal LM loss: position i predicts token i + 1 (or the pre-shifted `shift_labels` of
            # sequence parallelism), averaged over `num_items_in_batch` under gradient accumulation when given.
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


# save_pretrained copies this file beside the weights, so the folder loads with trust_remote_code=True
CharGptModel.register_for_auto_class("AutoModel")
CharGptForCausalLM.register_for_auto_class("AutoModelForCausalLM")
