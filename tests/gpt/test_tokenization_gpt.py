from transformers import AutoTokenizer

import hfnets  # noqa: F401  (registers the Auto classes)
from hfnets import CharGptTokenizer

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
