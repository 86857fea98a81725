"""The token store: text read piece by piece and tokenized once into token ids on disk, the same ids as tokenizing
the whole text at once, reused by a later run on the same text and tokenizer and never by another."""

import json

import numpy as np
import pytest
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from hfnets import CharGptTokenizer
from hfnets.training.token_store import (
    TextSource,
    cache_root,
    characters,
    dataset_source,
    file_source,
    token_store,
)

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 7


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def text_file(tmp_path, text=TEXT):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


def stores(root) -> list:
    return sorted(p.name for p in root.iterdir() if p.name != "characters") if root.exists() else []


def test_a_text_read_in_pieces_gives_the_ids_of_the_whole_text(tmp_path):
    tokenizer = CharGptTokenizer.from_text(TEXT + "é")  # an accented character: code points beyond ASCII
    source = file_source(text_file(tmp_path, TEXT + "café\n"), piece_chars=7)  # many pieces, each ended at a line end
    assert all(piece.endswith("\n") for piece in source.pieces())
    tokens = token_store(source, tokenizer)
    assert tokens.dtype == np.uint16 and isinstance(tokens, np.memmap)
    assert np.array_equal(tokens, tokenizer.encode_fast(TEXT + "café\n"))
    unknown = token_store(file_source(text_file(tmp_path, "Zz\n")), tokenizer)  # characters outside the vocabulary
    assert unknown.tolist() == [tokenizer.unk_token_id, tokenizer.unk_token_id, tokenizer.encoder["\n"]]


def test_the_characters_of_a_text_make_the_same_vocabulary_as_the_text(tmp_path):
    path = text_file(tmp_path)
    source = file_source(path, piece_chars=5)
    assert characters(source) == "".join(sorted(set(TEXT)))
    assert CharGptTokenizer.from_text(characters(source)).get_vocab() == CharGptTokenizer.from_text(TEXT).get_vocab()
    # kept for the next run on the same text (not read again), and never used for a changed text
    assert characters(TextSource("same", source.identity, lambda: iter(()))) == "".join(sorted(set(TEXT)))
    path.write_text(TEXT + "#\n")
    assert characters(file_source(path)) == "".join(sorted(set(TEXT + "#")))


def test_a_store_is_reused_for_the_same_text_and_tokenizer_and_never_for_another(tmp_path):
    path = text_file(tmp_path)
    tokenizer = CharGptTokenizer.from_text(TEXT)
    first = token_store(file_source(path), tokenizer)
    root = cache_root()
    assert len(stores(root)) == 1
    written = (root / stores(root)[0] / "tokens.bin").stat().st_mtime_ns
    again = token_store(file_source(path), tokenizer)
    assert np.array_equal(first, again) and (root / stores(root)[0] / "tokens.bin").stat().st_mtime_ns == written
    meta = json.loads((root / stores(root)[0] / "meta.json").read_text())
    assert meta["count"] == len(TEXT) and meta["dtype"] == "uint16" and meta["source"] == str(path)
    token_store(file_source(path), CharGptTokenizer.from_text(TEXT + "#"))  # another vocabulary: another store
    assert len(stores(root)) == 2
    path.write_text(TEXT + "more\n")  # the file changed: another store, with the new text's ids
    changed = token_store(file_source(path), tokenizer)
    assert len(stores(root)) == 3 and len(changed) == len(TEXT) + 5


def test_any_tokenizer_goes_through_the_store(tmp_path):
    """A byte-level BPE (any tokenizer, not only the character one) gives the ids of the whole text too."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        [TEXT], trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe)
    tokens = token_store(file_source(text_file(tmp_path), piece_chars=20), tokenizer)
    assert tokens.tolist() == tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert len(tokens) < len(TEXT)  # merges: fewer tokens than characters


def test_a_dataset_column_is_read_in_batches_of_rows(tmp_path):
    rows = TEXT.splitlines()
    dataset = Dataset.from_dict({"text": rows, "n": list(range(len(rows)))})
    tokenizer = CharGptTokenizer.from_text(TEXT)
    tokens = token_store(dataset_source(dataset, "text", rows_per_piece=4), tokenizer)
    assert np.array_equal(tokens, tokenizer.encode_fast("\n".join(rows)))


def test_an_interrupted_tokenization_leaves_no_store(tmp_path):
    def pieces():
        yield "ROMEO:\n"
        raise KeyboardInterrupt  # the run stopped half-way

    tokenizer = CharGptTokenizer.from_text(TEXT)
    with pytest.raises(KeyboardInterrupt):
        token_store(TextSource("broken", "broken:1", pieces), tokenizer)
    assert stores(cache_root()) == []  # nothing half-written to be reused, no staging folder left
    empty = token_store(TextSource("empty", "empty:1", lambda: iter(())), tokenizer)
    assert len(empty) == 0


def test_a_file_that_is_not_text_is_refused_as_such(tmp_path):
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="as UTF-8 text .*give plain text files"):
        characters(file_source(tmp_path / "weights.bin"))


def test_tokenizing_in_several_processes_writes_the_same_store(tmp_path):
    """--preprocessing_num_workers: the pieces are encoded in worker processes and written in order, for the
    character vocabulary and a byte-level BPE alike."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(
        [TEXT], trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    path = text_file(tmp_path, TEXT * 3)
    for tokenizer in (CharGptTokenizer.from_text(TEXT), PreTrainedTokenizerFast(tokenizer_object=bpe)):
        source = file_source(path, piece_chars=40)  # dozens of pieces, spread over the workers
        parallel = np.array(token_store(source, tokenizer, num_workers=2))
        for folder in cache_root().iterdir():  # start over: tokenize again, in this process
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()
        assert np.array_equal(parallel, token_store(source, tokenizer, num_workers=1))
        assert parallel.tolist() == tokenizer(TEXT * 3, add_special_tokens=False)["input_ids"]
