"""Text as token ids on disk: tokenized once, piece by piece, into a flat file that training reads windows from (a
numpy memmap), as nanoGPT's `prepare.py` does, so a corpus of any size trains in flat memory. The files are kept
in a cache keyed by the text and the tokenizer: a second run on the same text, or a resumed one, reuses them, and
another tokenizer (or a changed file) never does.

The cache is `$HF_HOME/hfnets/token_store` (`~/.cache/huggingface/hfnets/token_store` by default), one folder per
text and tokenizer, each with its `tokens.bin` and a `meta.json` saying what it holds, and `characters/`, each text's
character set; delete the folder to clear it.
"""

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
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
    size = dataset.select_columns([column]).data.nbytes  # the Arrow column's bytes: the text's size, near enough
    return TextSource(f"{column} of {dataset.info.dataset_name or 'the dataset'}", identity, pieces, size)


def characters(source: TextSource) -> str:
    """Every distinct character of the text (for a character vocabulary), read piece by piece, and kept in the cache
    beside the token stores: a later run on the same text reads them back instead of the whole text."""
    path = cache_root() / "characters" / (hashlib.sha256(source.identity.encode()).hexdigest()[:24] + ".json")
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["characters"]
    seen: set[str] = set()
    for piece in source.pieces():
        seen.update(piece)
    found = "".join(sorted(seen))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps({"source": source.name, "characters": found}, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, path)  # whole or not at all
    return found


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
    """A function from a piece of text to its token ids, picklable for the worker processes. A character tokenizer
    encodes through a lookup table of code points (vectorized: hundreds of MB a second, and a worker needs numpy
    alone); any other through its own `__call__`."""
    table_of = getattr(tokenizer, "encoder", None)
    unk = getattr(tokenizer, "unk_token_id", None)
    if hasattr(tokenizer, "encode_fast") and isinstance(table_of, dict) and unk is not None:
        single = {ord(c): i for c, i in table_of.items() if len(c) == 1}
        table = np.full(max(single, default=0) + 2, unk, dtype=np.int32)  # the last entry: any code point beyond
        table[list(single)] = list(single.values())
        return CodePointTable(table)
    return TokenizerCall(tokenizer)


@dataclass
class CodePointTable:
    """Token ids as `table[code point]` (code points past its end read its last entry, the unknown token)."""

    table: np.ndarray

    def __call__(self, piece: str) -> np.ndarray:
        points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
        return self.table[np.minimum(points, len(self.table) - 1)]


@dataclass
class TokenizerCall:
    """Token ids as the tokenizer gives them, without special tokens."""

    tokenizer: object

    def __call__(self, piece: str) -> np.ndarray:
        ids = self.tokenizer(piece, add_special_tokens=False, verbose=False)["input_ids"]
        return np.asarray(ids, dtype=np.int64)


def token_store(
    source: TextSource, tokenizer, show_progress: bool = True, num_workers: int | None = None
) -> np.memmap:
    """The token ids of `source` as a read-only memmap, from the cache or tokenized now, in `num_workers` processes
    (None: one per CPU, at most 8, for a text of several pieces; 1 for a short one), written whole or not at all: an
    interrupted run leaves no half file to be reused."""
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
        count = 0
        bar = tqdm(
            total=source.size, unit="B", unit_scale=True, desc=f"tokenizing {source.name}", disable=not show_progress
        )
        with open(staging / "tokens.bin", "wb") as handle:
            for size, ids in encoded_pieces(source, encoder(tokenizer), dtype, default_workers(source, num_workers)):
                handle.write(ids.tobytes())
                count += len(ids)
                bar.update(size if source.size is not None else 0)
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


def default_workers(source: TextSource, num_workers: int | None) -> int:
    if num_workers is not None:
        return max(1, num_workers)
    if source.size is not None and source.size < 4 * PIECE_CHARS:  # starting processes would cost more
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, cpus)


def encoded_pieces(
    source: TextSource, encode: Callable[[str], np.ndarray], dtype: np.dtype, num_workers: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(bytes read, token ids as `dtype`) of each piece of `source`, in order. With several workers, each piece is
    encoded in a process of its own and at most two pieces a worker are in flight: memory stays flat."""
    if num_workers == 1:
        for piece in source.pieces():
            yield len(piece.encode("utf-8")), encode(piece).astype(dtype)
        return
    # Forked on Linux, as `datasets.map(num_proc=...)` does: a spawned worker would import the training script again
    # (torch, transformers: 0.45 GB each), a forked one shares the parent's pages and touches only what it encodes.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(num_workers, mp_context=context, initializer=_start_worker, initargs=(encode,)) as pool:
        pending: deque = deque()
        for piece in source.pieces():
            pending.append(pool.submit(_encode_in_worker, piece, dtype))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


_worker_encode: Callable[[str], np.ndarray] | None = None


def _start_worker(encode: Callable[[str], np.ndarray]) -> None:
    global _worker_encode
    _worker_encode = encode


def _encode_in_worker(piece: str, dtype: np.dtype) -> tuple[int, np.ndarray]:
    return len(piece.encode("utf-8")), _worker_encode(piece).astype(dtype)


def _open(folder: Path) -> np.ndarray:
    meta = json.loads((folder / "meta.json").read_text())
    if meta["count"] == 0:  # an empty file cannot be mapped
        return np.zeros(0, dtype=meta["dtype"])
    return np.memmap(folder / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(meta["count"],))
