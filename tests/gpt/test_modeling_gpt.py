import io
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer, TextStreamer, pipeline

from hfnets import CharGptConfig, CharGptForCausalLM, CharGptModel, CharGptTokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


@pytest.fixture(scope="module")
def tokenizer() -> CharGptTokenizer:
    return CharGptTokenizer.from_text(TEXT)


def tiny_model(vocab_size: int, **kwargs) -> CharGptForCausalLM:
    torch.manual_seed(0)
    defaults = {"n_layer": 2, "n_head": 2, "n_embd": 16, "n_positions": 32}
    return CharGptForCausalLM(CharGptConfig(vocab_size=vocab_size, **{**defaults, **kwargs})).eval()


POSITIONS = pytest.mark.parametrize("position_embedding_type", ["rotary", "learned"])


@POSITIONS
def test_changing_a_later_token_never_changes_earlier_logits(tokenizer, position_embedding_type):
    model = tiny_model(len(tokenizer), position_embedding_type=position_embedding_type)
    ids = torch.randint(2, len(tokenizer), (2, 20), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 12] = (changed[:, 12] + 1 - 2) % (len(tokenizer) - 2) + 2
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    assert torch.equal(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12:], b[:, 12:])


@POSITIONS
def test_greedy_generation_with_cache_equals_without(tokenizer, position_embedding_type):
    model = tiny_model(len(tokenizer), position_embedding_type=position_embedding_type)
    inputs = tokenizer("Speak", return_tensors="pt")
    cached = model.generate(**inputs, max_new_tokens=20, do_sample=False, use_cache=True)
    uncached = model.generate(**inputs, max_new_tokens=20, do_sample=False, use_cache=False)
    assert cached.shape == (1, 5 + 20) and torch.equal(cached, uncached)


@POSITIONS
def test_batched_left_padded_generation_equals_one_by_one(tokenizer, position_embedding_type):
    model = tiny_model(len(tokenizer), position_embedding_type=position_embedding_type)
    prompts = ["All:", "First Citizen:\nBef", "s"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    assert tokenizer.padding_side == "left" and (batch["attention_mask"][:, 0] == 0).any()
    batched = model.generate(**batch, max_new_tokens=8, do_sample=False)[:, -8:]
    for row, prompt in enumerate(prompts):
        single = model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=8, do_sample=False)
        assert torch.equal(batched[row], single[0, -8:]), prompt


def test_loss_is_next_token_cross_entropy(tokenizer):
    model = tiny_model(len(tokenizer))
    ids = tokenizer(TEXT[:30], return_tensors="pt")["input_ids"]
    outputs = model(ids, labels=ids)
    expected = torch.nn.functional.cross_entropy(outputs.logits[0, :-1], ids[0, 1:])
    assert torch.allclose(outputs.loss, expected)
    assert outputs.logits.shape == (1, 30, len(tokenizer))


def test_embeddings_are_tied_and_survive_save_load(tokenizer, tmp_path):
    model = tiny_model(len(tokenizer))
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, CharGptForCausalLM)
    assert loaded.lm_head.weight.data_ptr() == loaded.transformer.wte.weight.data_ptr()
    ids = tokenizer(TEXT[:20], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), CharGptConfig)
    assert isinstance(AutoModel.from_pretrained(tmp_path), CharGptModel)
    assert isinstance(AutoTokenizer.from_pretrained(tmp_path), CharGptTokenizer)


def test_gradient_checkpointing_gives_the_same_gradients(tokenizer):
    ids = tokenizer(TEXT[:30], return_tensors="pt")["input_ids"]
    grads = []
    for checkpointing in (False, True):
        model = tiny_model(len(tokenizer)).train()
        if checkpointing:
            model.activation_checkpointing_enable()
        model(ids, labels=ids).loss.backward()
        grads.append(model.transformer.h[0].attn.qkv.weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_every_generate_option_works(tokenizer):
    model = tiny_model(len(tokenizer))
    inputs = tokenizer("All:", return_tensors="pt")
    torch.manual_seed(0)
    for options in ({"top_k": 5}, {"top_p": 0.9}, {"temperature": 0.7}, {"repetition_penalty": 1.3}):
        output = model.generate(**inputs, max_new_tokens=6, do_sample=True, **options)
        assert output.shape == (1, 10)
    beams = model.generate(**inputs, max_new_tokens=6, num_beams=3, do_sample=False)
    assert beams.shape == (1, 10)
    stream = io.StringIO()
    stdout, sys.stdout = sys.stdout, stream
    try:
        greedy = model.generate(**inputs, max_new_tokens=6, do_sample=False, streamer=TextStreamer(tokenizer))
    finally:
        sys.stdout = stdout
    assert stream.getvalue().strip() == tokenizer.decode(greedy[0]).strip()


def test_text_generation_pipeline(tokenizer, tmp_path):
    tiny_model(len(tokenizer)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    generator = pipeline("text-generation", model=str(tmp_path))
    output = generator("All:", max_new_tokens=5, do_sample=False)
    assert output[0]["generated_text"].startswith("All:") and len(output[0]["generated_text"]) == 9


@pytest.mark.parametrize("family", ["gpt", "rnn"])
def test_an_empty_prompt_asks_for_one_character(tokenizer, tmp_path, family):
    """The text-generation pipeline on "" (and generate without input ids): the models have no start-of-text token,
    so they ask for a prompt instead of transformers' "bos_token_id has to be defined"."""
    from hfnets import CharRnnConfig, CharRnnForCausalLM

    model = (
        tiny_model(len(tokenizer)) if family == "gpt" else CharRnnForCausalLM(CharRnnConfig(vocab_size=len(tokenizer)))
    )
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    generator = pipeline("text-generation", model=str(tmp_path))
    with pytest.raises(ValueError, match="Give a prompt of at least one character"):
        generator("", max_new_tokens=5)
    with pytest.raises(ValueError, match="Give a prompt of at least one character"):
        model.generate(max_new_tokens=5)
    assert generator("\n", max_new_tokens=3, do_sample=False)[0]["generated_text"].startswith("\n")


def test_bad_inputs_are_clear_errors(tokenizer):
    model = tiny_model(len(tokenizer))
    with pytest.raises(ValueError, match="`input_ids` is empty"):
        model(torch.zeros((1, 0), dtype=torch.long))
    with pytest.raises(ValueError, match="context is n_positions=32. Shorten the prompt"):
        model(torch.full((1, 40), 3))
    prompt = tokenizer("Speak, speak.", return_tensors="pt")
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    # 13 + 30 tokens do not fit in 32: refused before any token is computed (nothing generated is thrown away).
    with pytest.raises(ValueError, match="would be 43 tokens.*n_positions=32. Lower max_new_tokens to at most 19"):
        model.generate(**prompt, max_new_tokens=30, do_sample=False)
    assert calls == []
    with pytest.raises(ValueError, match=r"ids outside \[0, \d+\).*this model's own tokenizer"):
        model(torch.tensor([[3, 500]]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_embd": 30, "n_head": 4}, "must be divisible by `n_head`"),
        ({"n_layer": 0}, "`n_layer` must be a positive integer"),
        ({"position_embedding_type": "alibi"}, "`position_embedding_type` must be one of"),
        ({"dropout": 1.0}, "`dropout` must be a probability"),
        ({"n_embd": 12, "n_head": 4}, "Rotary embeddings need an even head size"),
    ],
)
def test_invalid_config_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CharGptConfig(**kwargs)
