import json

import pytest
from transformers import AutoTokenizer, pipeline

import hfnets  # noqa: F401  (registers the Auto classes)
from hfnets import CharGptConfig, CharGptForCausalLM, CharGptTokenizer, CharRnnConfig, CharRnnForCausalLM

TEXT = "To be, or not to be:\nthat is the question.\n"


def test_round_trip_keeps_spaces_and_newlines():
    tokenizer = CharGptTokenizer.from_text(TEXT)
    ids = tokenizer(TEXT)["input_ids"]
    assert len(ids) == len(TEXT)
    assert tokenizer.decode(ids) == TEXT
    assert tokenizer.encode_fast(TEXT) == ids


def test_unknown_characters_become_unk_instead_of_failing():
    tokenizer = CharGptTokenizer.from_text(TEXT)
    ids = tokenizer("to be? Zounds!")["input_ids"]
    assert ids.count(tokenizer.unk_token_id) == 4  # "?", "Z", "d", "!" are not in the text
    assert tokenizer.decode(ids) == "to be<unk> <unk>oun<unk>s<unk>"
    assert tokenizer.encode_fast("Z") == [tokenizer.unk_token_id]


def test_vocabulary_is_specials_then_sorted_characters():
    tokenizer = CharGptTokenizer.from_text("cab")
    assert tokenizer.get_vocab() == {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3, "c": 4}
    assert len(tokenizer) == 5 and tokenizer.pad_token_id == 0


def test_save_and_load_with_the_auto_class(tmp_path):
    tokenizer = CharGptTokenizer.from_text(TEXT)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, CharGptTokenizer)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded(TEXT)["input_ids"] == tokenizer(TEXT)["input_ids"]
    assert loaded.padding_side == "left"


def test_special_token_text_in_a_prompt_is_just_characters():
    tokenizer = CharGptTokenizer.from_text("abc<pad>d<unk>")
    ids = tokenizer("a<pad>b")["input_ids"]
    assert len(ids) == 7 and tokenizer.pad_token_id not in ids and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == "a<pad>b"
    batch = tokenizer(["a", "abc"], padding=True)["input_ids"]  # padding itself still uses the pad token
    assert batch[0][:2] == [tokenizer.pad_token_id] * 2
    assert tokenizer.decode(batch[0], skip_special_tokens=True) == "a"


def test_a_pad_token_missing_from_the_vocabulary_is_added_as_a_new_token(tmp_path):
    CharGptTokenizer.from_text(TEXT).save_pretrained(tmp_path)
    tokenizer = CharGptTokenizer.from_pretrained(tmp_path, pad_token="[PAD]")
    assert tokenizer.pad_token == "[PAD]" and tokenizer.pad_token_id == len(tokenizer) - 1
    batch = tokenizer(["to", "that"], padding=True)
    assert batch["input_ids"][0][:2] == [tokenizer.pad_token_id] * 2 and batch["attention_mask"][0][:2] == [0, 0]


def test_a_vocabulary_without_the_unknown_token_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text('{"<pad>": 0, "a": 1}')
    with pytest.raises(ValueError, match="has no unknown token '<unk>'"):
        CharGptTokenizer(str(tmp_path / "vocab.json"))


def test_words_given_split_are_joined_as_they_are():
    tokenizer = CharGptTokenizer.from_text(TEXT)
    split = tokenizer(["to", " be"], is_split_into_words=True)["input_ids"]
    assert tokenizer.decode(split) == "to be"


def test_the_model_config_tells_its_own_tokenizer_from_another_of_the_same_size():
    tokenizer = CharGptTokenizer.from_text(TEXT)
    config = CharGptConfig(
        vocab_size=len(tokenizer), vocab_fingerprint=CharGptConfig.fingerprint(tokenizer.get_vocab())
    )
    config.check_tokenizer(tokenizer)
    config.check_tokenizer(CharGptTokenizer.from_text(TEXT[::-1]))  # the same characters: the same vocabulary

    shifted = CharGptTokenizer.from_text(TEXT.replace("T", "W"))  # as many characters, other ids
    assert len(shifted) == len(tokenizer)
    with pytest.raises(ValueError, match="not the one this model was trained with"):
        config.check_tokenizer(shifted)
    with pytest.raises(ValueError, match=r"The tokenizer has \d+ tokens but the model's vocabulary has 5"):
        CharGptConfig(vocab_size=5).check_tokenizer(tokenizer)
    CharGptConfig(vocab_size=len(tokenizer)).check_tokenizer(shifted)  # no fingerprint saved: only the size counts


def saved_model_with_a_foreign_tokenizer(folder, model_class, config_class, foreign_vocab) -> None:
    """A model and its tokenizer saved together, then the tokenizer's vocabulary replaced by `foreign_vocab`."""
    tokenizer = CharGptTokenizer.from_text(TEXT)
    config = config_class(vocab_size=len(tokenizer), vocab_fingerprint=config_class.fingerprint(tokenizer.get_vocab()))
    model_class(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "vocab.json").write_text(json.dumps(foreign_vocab(tokenizer.get_vocab())))


def half(vocab):
    return dict(list(vocab.items())[: len(vocab) // 2])


def shuffled(vocab):
    ids = sorted(vocab.values())
    return dict(zip(vocab, ids[2:] + ids[:2], strict=True))


@pytest.mark.parametrize("foreign_vocab", [half, shuffled])
@pytest.mark.parametrize("family", ["gpt", "rnn"])
def test_a_tokenizer_that_is_not_the_models_is_refused_where_people_load_them(tmp_path, family, foreign_vocab):
    """A folder whose vocab.json is not the one its model was trained with: AutoTokenizer and the text-generation
    pipeline refuse it, where they used to write `<unk><unk>E<unk>...` or the wrong characters."""
    model_class, config_class = {
        "gpt": (CharGptForCausalLM, CharGptConfig),
        "rnn": (CharRnnForCausalLM, CharRnnConfig),
    }[family]
    saved_model_with_a_foreign_tokenizer(tmp_path, model_class, config_class, foreign_vocab)
    with pytest.raises(ValueError, match="is not the vocabulary the model saved there was trained with"):
        AutoTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="is not the vocabulary the model saved there was trained with"):
        pipeline("text-generation", model=str(tmp_path))


def test_the_models_own_tokenizer_loads_beside_it(tmp_path):
    saved_model_with_a_foreign_tokenizer(tmp_path, CharGptForCausalLM, CharGptConfig, lambda vocab: vocab)
    generator = pipeline("text-generation", model=str(tmp_path))
    assert generator("To", max_new_tokens=3, do_sample=False)[0]["generated_text"].startswith("To")
    # a tokenizer folder of its own (no model beside it) loads as before
    CharGptTokenizer.from_text(TEXT).save_pretrained(tmp_path / "alone")
    assert len(AutoTokenizer.from_pretrained(tmp_path / "alone")) == len(CharGptTokenizer.from_text(TEXT))
