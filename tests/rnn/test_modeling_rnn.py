"""The character-level RNN: its state travels through `generate` (one step per new token, the same output as
without the cache), padding leaves it untouched, and it loads like any transformers model, with or without hfnets."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from hfnets import CharGptTokenizer, CharRnnConfig, CharRnnForCausalLM
from tests.helpers.isolated import run_without_hfnets

TEXT = "O Romeo, Romeo! wherefore art thou Romeo?\n"


def make_model(rnn_type: str = "lstm", **overrides) -> CharRnnForCausalLM:
    # a wide initialization: logits far apart, so that greedy choices do not hang on rounding
    config = dict(
        vocab_size=30, hidden_size=32, num_layers=2, rnn_type=rnn_type, initializer_range=0.5, pad_token_id=0
    )
    torch.manual_seed(0)
    return CharRnnForCausalLM(CharRnnConfig(**{**config, **overrides})).eval()


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_greedy_generation_with_the_cache_equals_without(rnn_type):
    model = make_model(rnn_type)
    prompt = torch.randint(1, 30, (1, 6), generator=torch.Generator().manual_seed(1))
    cached = model.generate(prompt, max_new_tokens=25, do_sample=False, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=25, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_cached_generation_reads_one_new_token_per_step():
    model = make_model()
    seen = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    model.generate(torch.randint(1, 30, (1, 6)), max_new_tokens=5, do_sample=False)
    assert seen == [6, 1, 1, 1, 1]


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_a_left_padded_batch_generates_what_each_prompt_generates_alone(rnn_type):
    model = make_model(rnn_type)
    short, long = torch.tensor([[3, 7, 9]]), torch.tensor([[5, 1, 8, 2, 4, 6, 11]])
    batch = torch.cat([torch.cat([torch.zeros(1, 4, dtype=torch.long), short], 1), long])
    mask = torch.tensor([[0, 0, 0, 0, 1, 1, 1], [1] * 7])
    together = model.generate(batch, attention_mask=mask, max_new_tokens=15, do_sample=False)
    assert torch.equal(together[0, 4:], model.generate(short, max_new_tokens=15, do_sample=False)[0])
    assert torch.equal(together[1], model.generate(long, max_new_tokens=15, do_sample=False)[0])


def test_padding_on_either_side_leaves_the_real_tokens_logits_unchanged():
    model = make_model()
    tokens = torch.tensor([[3, 7, 9, 2]])
    with torch.no_grad():
        alone = model(tokens).logits
        left = model(torch.tensor([[0, 0, 3, 7, 9, 2]]), attention_mask=torch.tensor([[0, 0, 1, 1, 1, 1]])).logits
        right = model(torch.tensor([[3, 7, 9, 2, 0, 0]]), attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0]])).logits
    torch.testing.assert_close(left[:, 2:], alone)
    torch.testing.assert_close(right[:, :4], alone)
    with pytest.raises(ValueError, match="one run of real tokens per row"):
        model(torch.tensor([[3, 0, 9]]), attention_mask=torch.tensor([[1, 0, 1]]))


def test_beam_search_and_sampling_run():
    model = make_model()
    prompt = torch.randint(1, 30, (2, 4))
    assert model.generate(prompt, max_new_tokens=6, num_beams=3, do_sample=False).shape == (2, 10)
    torch.manual_seed(0)
    assert model.generate(prompt, max_new_tokens=6, do_sample=True, top_k=5).shape == (2, 10)


def test_loss_outputs_and_tied_embeddings():
    model = make_model()
    tokens = torch.randint(1, 30, (2, 8))
    outputs = model(tokens, labels=tokens, output_hidden_states=True)
    assert outputs.loss.ndim == 0 and outputs.logits.shape == (2, 8, 30)
    assert len(outputs.hidden_states) == 3 and outputs.hidden_states[0].shape == (2, 8, 32)
    assert isinstance(model(tokens, return_dict=False), tuple)
    tied = make_model(tie_word_embeddings=True)
    assert tied.lm_head.weight is tied.embedding.weight
    with pytest.raises(ValueError, match="rnn_type"):
        CharRnnConfig(rnn_type="transformer")
    with pytest.raises(ValueError, match="outside"):
        model(torch.tensor([[30]]))


def test_saved_folder_loads_with_auto_classes_and_without_hfnets(tmp_path):
    tokenizer = CharGptTokenizer.from_text(TEXT)
    model = make_model(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(tmp_path / "char-rnn")
    tokenizer.save_pretrained(tmp_path / "char-rnn")
    prompts = ["O Rom", "wherefore"]
    expected = model.generate(
        **tokenizer(prompts, return_tensors="pt", padding=True), max_new_tokens=12, do_sample=False
    )

    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "char-rnn")
    assert type(loaded) is CharRnnForCausalLM
    assert type(AutoTokenizer.from_pretrained(tmp_path / "char-rnn")) is CharGptTokenizer
    text = pipeline("text-generation", model=str(tmp_path / "char-rnn"))("O Rom", max_new_tokens=12, do_sample=False)
    assert text[0]["generated_text"] == tokenizer.decode(
        model.generate(**tokenizer("O Rom", return_tensors="pt"), max_new_tokens=12, do_sample=False)[0],
        skip_special_tokens=True,
    )

    result = run_without_hfnets(
        f"""
        import json
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained("char-rnn", trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained("char-rnn", trust_remote_code=True)
        inputs = tokenizer({prompts!r}, return_tensors="pt", padding=True)
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        print(json.dumps({{"ids": output.tolist(), "module": type(model).__module__}}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["module"].startswith("transformers_modules.")
    assert output["ids"] == expected.tolist()


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_training_continues_from_a_carried_state(rnn_type):
    """Truncated backpropagation through time: a window that starts from the state an earlier window left in the
    cache trains (gradients flow through this window), and reading the text in two windows gives the logits of
    reading it in one."""
    from transformers import DynamicCache

    model = make_model(rnn_type)
    model.train()
    ids = torch.randint(0, model.config.vocab_size, (3, 12))
    whole = model(input_ids=ids).logits
    first = model(input_ids=ids[:, :7], use_cache=True)
    carried = DynamicCache(config=model.config)
    for index, layer in enumerate(first.cache.layers):
        for slot, state in enumerate(layer.recurrent_states.values()):
            carried.update_recurrent_state(state.detach(), index, slot)
    second = model(input_ids=ids[:, 7:], labels=ids[:, 7:], cache=carried, use_cache=True)
    second.loss.backward()
    assert all(parameter.grad is not None for parameter in model.parameters())
    torch.testing.assert_close(torch.cat([first.logits, second.logits], dim=1), whole, rtol=1e-5, atol=1e-5)
