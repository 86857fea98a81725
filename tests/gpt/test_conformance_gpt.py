"""CharGpt behaves as transformers' own causal language models do: output options, the cache argument, and every
decoding strategy of `generate` (with and without the cache, with left padding)."""

import pytest
import torch

from hfnets import CharGptConfig, CharGptForCausalLM, CharGptTokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


@pytest.fixture(scope="module")
def tokenizer() -> CharGptTokenizer:
    return CharGptTokenizer.from_text(TEXT)


def tiny_model(vocab_size: int, seed: int = 0, **kwargs) -> CharGptForCausalLM:
    torch.manual_seed(seed)
    defaults = {"n_layer": 2, "n_head": 2, "n_embd": 16, "n_positions": 48}
    return CharGptForCausalLM(CharGptConfig(vocab_size=vocab_size, **{**defaults, **kwargs})).eval()


@pytest.fixture(scope="module")
def model(tokenizer) -> CharGptForCausalLM:
    return tiny_model(len(tokenizer))


@pytest.fixture(scope="module")
def ids(tokenizer) -> torch.Tensor:
    return tokenizer(["All:\nSpe", "First Ci"], return_tensors="pt")["input_ids"]


# Output options of forward


def test_output_attentions_returns_each_blocks_causal_attention_weights(model, ids):
    with torch.no_grad():
        outputs = model(ids, output_attentions=True)
        plain = model(ids)
    assert len(outputs.attentions) == model.config.n_layer
    for weights in outputs.attentions:
        assert weights.shape == (2, model.config.n_head, 8, 8)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, model.config.n_head, 8))
        assert (weights.triu(diagonal=1) == 0).all()  # no position attends to a later one
    # Asking for the weights computes attention explicitly; the result is the same as with SDPA.
    torch.testing.assert_close(outputs.logits, plain.logits)
    assert plain.attentions is None


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_the_attention_weights_are_softmax_of_q_k_over_sqrt_d_under_the_causal_mask(tokenizer, ids, positions):
    """What an explainer draws is the model's own attention: each block's `output_attentions` weights equal
    softmax(q k^T / sqrt(head_dim)) of that block's query and key projections (rotary angles applied), with every
    later position masked out."""
    model = tiny_model(len(tokenizer), position_embedding_type=positions)
    seen = []
    hooks = [
        block.attn.register_forward_hook(lambda module, args, output: seen.append((module, args[0], args[1])))
        for block in model.transformer.h
    ]
    with torch.no_grad():
        outputs = model(ids, output_attentions=True)
    for hook in hooks:
        hook.remove()
    for (attention, hidden, rotary), weights in zip(seen, outputs.attentions):
        batch, seq, _ = hidden.shape
        head_dim = model.config.n_embd // model.config.n_head
        q, k, _ = attention.qkv(hidden).view(batch, seq, 3, model.config.n_head, head_dim).unbind(2)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (batch, n_head, seq, head_dim)
        if positions == "rotary":
            angles = torch.arange(seq)[:, None] * model.config.rope_theta ** (-torch.arange(0, head_dim, 2) / head_dim)
            cos, sin = angles.cos().repeat(1, 2), angles.sin().repeat(1, 2)  # RoFormer eq. 34, halves rotated
            q = q * cos + torch.cat([-q[..., head_dim // 2 :], q[..., : head_dim // 2]], -1) * sin
            k = k * cos + torch.cat([-k[..., head_dim // 2 :], k[..., : head_dim // 2]], -1) * sin
        else:
            assert rotary is None
        scores = q @ k.transpose(-2, -1) / head_dim**0.5
        causal = torch.ones(seq, seq, dtype=torch.bool).tril()
        expected = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        torch.testing.assert_close(weights, expected, rtol=1e-5, atol=1e-6)


def test_eager_attention_gives_the_same_logits_as_sdpa(tokenizer, ids):
    sdpa = tiny_model(len(tokenizer))
    eager = tiny_model(len(tokenizer), attn_implementation="eager")
    assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
    with torch.no_grad():
        torch.testing.assert_close(eager(ids).logits, sdpa(ids).logits)


def test_config_output_flags_are_the_defaults(tokenizer, ids):
    model = tiny_model(len(tokenizer), output_hidden_states=True, output_attentions=True)
    outputs = model(ids)
    assert len(outputs.hidden_states) == model.config.n_layer + 1
    assert len(outputs.attentions) == model.config.n_layer
    assert model(ids, output_hidden_states=False, output_attentions=False).hidden_states is None


def test_hidden_states_are_block_inputs_then_the_final_output_with_gradients(model, ids):
    outputs = model(ids, output_hidden_states=True)
    assert [tuple(h.shape) for h in outputs.hidden_states] == [(2, 8, 16)] * (model.config.n_layer + 1)
    first = outputs.hidden_states[0]
    first.retain_grad()
    outputs.logits.sum().backward()
    assert first.grad is not None
    model.zero_grad()
    last = model.transformer(ids).last_hidden_state
    torch.testing.assert_close(outputs.hidden_states[-1], last)


def test_return_dict_false_returns_a_tuple_of_the_set_fields(model, ids):
    with torch.no_grad():
        as_dict = model(ids, labels=ids)
        as_tuple = model(ids, labels=ids, return_dict=False)
    assert isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0], as_dict.loss)
    torch.testing.assert_close(as_tuple[1], as_dict.logits)
    base = model.transformer(ids, return_dict=False, use_cache=False)
    assert isinstance(base, tuple) and base[0].shape == (2, 8, 16)


def test_the_pre_5_cache_name_past_key_values_still_reaches_the_model(model, ids):
    with torch.no_grad():
        full = model(ids, use_cache=False).logits
        first = model(ids[:, :5], use_cache=True)
        with pytest.warns(FutureWarning, match="past_key_values"):
            rest = model(ids[:, 5:], past_key_values=first.cache, use_cache=True)
    torch.testing.assert_close(rest.logits, full[:, 5:])
    assert rest.cache.get_seq_length() == 8


# Decoding strategies of generate


@pytest.fixture(scope="module")
def padded(tokenizer):
    batch = tokenizer(["All:", "First Citizen:\nBe"], return_tensors="pt", padding=True)
    assert tokenizer.padding_side == "left" and (batch["attention_mask"][:, 0] == 0).any()
    return batch


STRATEGIES = {
    "greedy": {"do_sample": False},
    "sampling": {"do_sample": True, "top_k": 8},
    "beam search": {"do_sample": False, "num_beams": 3},
    "beam sampling": {"do_sample": True, "num_beams": 3},
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_gives_the_same_tokens_with_and_without_the_cache(model, padded, strategy):
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(0)
        outputs.append(model.generate(**padded, max_new_tokens=10, use_cache=use_cache, **STRATEGIES[strategy]))
    assert outputs[0].shape == (2, padded["input_ids"].shape[1] + 10)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("strategy", ["greedy", "beam search"])  # sampled tokens also depend on the batch's draws
def test_left_padding_does_not_change_what_a_row_generates(model, tokenizer, padded, strategy):
    batched = model.generate(**padded, max_new_tokens=10, **STRATEGIES[strategy])[:, -10:]
    for row, prompt in enumerate(["All:", "First Citizen:\nBe"]):
        single = model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=10, **STRATEGIES[strategy])
        assert torch.equal(batched[row], single[0, -10:]), prompt


def test_sampling_is_reproducible_with_a_seed_and_varies_without(model, padded):
    torch.manual_seed(3)
    a = model.generate(**padded, max_new_tokens=12, do_sample=True)
    torch.manual_seed(3)
    b = model.generate(**padded, max_new_tokens=12, do_sample=True)
    c = model.generate(**padded, max_new_tokens=12, do_sample=True)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("strategy", ["sampling", "beam search", "beam sampling"])
def test_num_return_sequences(model, padded, strategy):
    torch.manual_seed(0)
    output = model.generate(**padded, max_new_tokens=6, num_return_sequences=3, **STRATEGIES[strategy])
    assert output.shape == (2 * 3, padded["input_ids"].shape[1] + 6)
    # Each prompt's sequences come together and start with that prompt.
    assert torch.equal(output[:3, : padded["input_ids"].shape[1]], padded["input_ids"][0].expand(3, -1))


def test_beam_search_scores_at_least_as_well_as_greedy(model, tokenizer):
    inputs = tokenizer("All:", return_tensors="pt")

    def log_likelihood(sequence):
        with torch.no_grad():
            logits = model(sequence).logits[0, :-1].log_softmax(-1)
        new = sequence[0, 1:]
        return logits.gather(-1, new[:, None])[inputs["input_ids"].shape[1] - 1 :].sum()

    greedy = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    beams = model.generate(**inputs, max_new_tokens=8, do_sample=False, num_beams=4, length_penalty=0.0)
    assert log_likelihood(beams) >= log_likelihood(greedy) - 1e-5


def test_assisted_decoding_with_a_smaller_draft_gives_the_greedy_tokens(model, tokenizer):
    draft = tiny_model(len(tokenizer), seed=1, n_layer=1, n_embd=8)
    inputs = tokenizer("First Citizen:", return_tensors="pt")
    plain = model.generate(**inputs, max_new_tokens=15, do_sample=False)
    assisted = model.generate(**inputs, max_new_tokens=15, do_sample=False, assistant_model=draft)
    assert torch.equal(assisted, plain)


def test_generate_returns_scores_logits_attentions_and_hidden_states_on_request(model, padded):
    prompt_length = padded["input_ids"].shape[1]
    output = model.generate(
        **padded,
        max_new_tokens=4,
        do_sample=False,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
        output_attentions=True,
        output_hidden_states=True,
    )
    assert output.sequences.shape == (2, prompt_length + 4)
    assert len(output.scores) == len(output.logits) == 4
    assert output.logits[0].shape == (2, model.config.vocab_size)
    assert torch.equal(output.scores[0].argmax(-1), output.sequences[:, prompt_length])
    # One entry per step, each with one tensor per block: the prompt first, then one new token at a time.
    assert len(output.attentions) == len(output.hidden_states) == 4
    assert len(output.attentions[0]) == model.config.n_layer
    assert output.attentions[0][0].shape == (2, model.config.n_head, prompt_length, prompt_length)
    assert output.attentions[1][0].shape == (2, model.config.n_head, 1, prompt_length + 1)
    assert len(output.hidden_states[0]) == model.config.n_layer + 1
    assert output.hidden_states[1][0].shape == (2, 1, model.config.n_embd)


# The loss, as transformers' Trainer and sequence parallelism use it


def test_loss_is_transformers_causal_lm_loss_with_shift_labels_and_num_items_in_batch(model, ids):
    labels = ids.clone()
    labels[0, :3] = -100  # ignored positions
    with torch.no_grad():
        outputs = model(ids, labels=labels)
        logits = outputs.logits
        by_hand = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
        )
        torch.testing.assert_close(outputs.loss, by_hand)

        # Pre-shifted targets (sequence parallelism shards after shifting) are used as they are.
        shift_labels = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)
        torch.testing.assert_close(model(ids, labels=labels, shift_labels=shift_labels).loss, by_hand)
        other = torch.randint(2, model.config.vocab_size, shift_labels.shape)
        assert not torch.allclose(model(ids, labels=labels, shift_labels=other).loss, by_hand)

        # Under gradient accumulation the Trainer sums over the step's tokens and divides by their count.
        counted = int((labels[:, 1:] != -100).sum())
        summed = model(ids, labels=labels, num_items_in_batch=torch.tensor(2 * counted)).loss
        torch.testing.assert_close(summed, by_hand / 2)
