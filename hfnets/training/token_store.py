"""Text as token ids on disk: tokenized once, piece by piece, into a flat file that training reads windows from (a
numpy memmap), as nanoGPT's `prepare.py` does, so a corpus of any size trains in flat memory. The files are kept
in a cache keyed by the text and the tokenizer: a second run on the same text, or a resumed one, reuses them, and
another tokenizer (or a changed file) never does.

The cache is `$HF_HOME/hfnets/token_store` (`~/.cache/huggingface/hfnets/token_store` by default), one folder per
text and tokenizer, each with its `tokens.bin` and a `meta.json` saying what it holds; delete the folder to clear it.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

PIECE_CHARS = 1 << 22  # about 4 million characters per piece: a piece, not the text, is in memory at a time


@dataclass
class TextSource:
    """A text read piece by piece: `pieces()` yields it in order, in pieces that end at a line end where there is one
    (so that no tokenizer sees a word cut in two); `identity` names it for the cache; `size` is its length in
    characters or bytes, for the progress bar (None where unknown)."""

    name: str
    identity: str
    pieces: Callable[[], Iterator[str]]
    size: int | None = None


def file_source(path: str | os.PathLike, piece_chars: int = PIECE_CHARS) -> TextSource:
    """A UTF-8 text file; a file that is not UTF-8 text is a ValueError naming it."""
    path = Path(path).resolve()
    stat = path.stat()

    def pieces() -> Iterator[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                while piece := handle.read(piece_chars):
                    yield piece + handle.readline()
        except UnicodeDecodeError as error:
            raise ValueError(f"Could not read {path} as UTF-8 text ({error.reason}): give plain text files.") from None

    return TextSource(str(path), f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}", pieces, stat.st_size)


def dataset_source(dataset, column: str, rows_per_piece: int = 10_000) -> TextSource:
    """A `datasets` split's text column, its rows joined by line ends, read in batches of rows (memory-mapped Arrow:
    nothing is joined whole)."""

    def pieces() -> Iterator[str]:
        first = True
        for batch in dataset.select_columns([column]).iter(batch_size=rows_per_piece):
            yield ("" if first else "\n") + "\n".join(batch[column])
            first = False

    identity = f"dataset:{getattr(dataset, '_fingerprint', id(dataset))}:{column}:{len(dataset)}"
    return TextSource(f"{column} of {dataset.info.dataset_name or 'the dataset'}", identity, pieces, None)


def characters(source: TextSource) -> str:
    """Every distinct character of the text, read piece by piece (for a character vocabulary)."""
    seen: set[str] = set()
    for piece in source.pieces():
        seen.update(piece)
    return "".join(sorted(seen))


def tokenizer_identity(tokenizer) -> str:
    """What makes a tokenizer encode as it does: its class and its vocabulary."""
    vocab = json.dumps(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]), ensure_ascii=False)
    return f"{type(tokenizer).__name__}:{hashlib.sha256(vocab.encode('utf-8')).hexdigest()}"


def cache_root() -> Path:
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hfnets" / "token_store"


def token_dtype(tokenizer) -> np.dtype:
    return np.dtype(np.uint16) if len(tokenizer) <= 2**16 else np.dtype(np.uint32)


def encoder(tokenizer) -> Callable[[str], np.ndarray]:
    """A function from a piece of text to its token ids. A character tokenizer encodes through a lookup table of
    code points (vectorized: hundreds of MB a second); any other through its own `__call__`."""
    table_of = getattr(tokenizer, "encoder", None)
    unk = getattr(tokenizer, "unk_token_id", None)
    if hasattr(tokenizer, "encode_fast") and isinstance(table_of, dict) and unk is not None:
        single = {ord(c): i for c, i in table_of.items() if len(c) == 1}
        table = np.full(max(single, default=0) + 2, unk, dtype=np.int32)  # the last entry: any code point beyond
        table[list(single)] = list(single.values())

        def encode_characters(piece: str) -> np.ndarray:
            points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
            return table[np.minimum(points, len(table) - 1)]

        return encode_characters

    def encode(piece: str) -> np.ndarray:
        return np.asarray(tokenizer(piece, add_special_tokens=False, verbose=False)["input_ids"], dtype=np.int64)

    return encode


def token_store(source: TextSource, tokenizer, show_progress: bool = True) -> np.memmap:
    """The token ids of `source` as a read-only memmap, from the cache or tokenized now (written whole or not at
    all: an interrupted run leaves no half file to be reused)."""
    tokenizer_id = tokenizer_identity(tokenizer)
    key = hashlib.sha256(f"{source.identity}\n{tokenizer_id}".encode()).hexdigest()[:24]
    folder = cache_root() / key
    dtype = token_dtype(tokenizer)
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        return _open(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        encode, count = encoder(tokenizer), 0
        bar = tqdm(
            total=source.size, unit="B", unit_scale=True, desc=f"tokenizing {source.name}", disable=not show_progress
        )
        with open(staging / "tokens.bin", "wb") as handle:
            for piece in source.pieces():
                ids = encode(piece)
                handle.write(ids.astype(dtype).tobytes())
                count += len(ids)
                bar.update(len(piece.encode("utf-8")) if source.size is not None else 0)
        bar.close()
        meta = {"count": count, "dtype": dtype.name, "source": source.name, "tokenizer": tokenizer_id}
        (staging / "meta.json").write_text(json.dumps(meta, indent=1))
        os.chmod(staging, 0o755)
        try:
            staging.rename(folder)
        except OSError:  # another process wrote it first: theirs is the same
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _open(folder)


def _open(folder: Path) -> np.ndarray:
    meta = json.loads((folder / "meta.json").read_text())
    if meta["count"] == 0:  # an empty file cannot be mapped
        return np.zeros(0, dtype=meta["dtype"])
    return np.memmap(folder / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(meta["count"],))
