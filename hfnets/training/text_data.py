"""Text data for the language-model scripts: a dataset or text files in, the token ids of each split out; the
tokenizer (a character vocabulary built from the text, or an existing one) and a new model's configuration.

The text is read piece by piece and tokenized once into a token store on disk (`token_store.py`), reused by later
runs on the same text; training cuts windows of `block_size` tokens out of it a whole batch at a time (as nanoGPT's
`get_batch` does), so memory does not grow with the corpus and nothing is tokenized or collated in the loop.
"""

import contextlib
import inspect
import logging
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset

from .data import batch_index, evaluation_split, load_dataset_dict
from .token_store import TextSource, characters, dataset_source, encoder, file_source, token_store

logger = logging.getLogger(__name__)

# For a language model the validation split is the one to report; the test split stays unseen.
TEXT_EVAL_SPLITS = ("validation", "valid", "val", "test")


def text_sources(
    dataset_name: str | None,
    dataset_config_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    text_column: str | None = None,
    eval_split: str | None = None,
) -> tuple[TextSource, TextSource | None]:
    """The training text and the evaluation text (None where there is none to name: the scripts then hold out the
    last 10% of the training text), each read piece by piece: files, or a dataset's text column with its rows joined
    by line ends."""
    if train_file is not None:
        for name, path in (("--train_file", train_file), ("--validation_file", validation_file)):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name} {path}: no such file.")
        return file_source(train_file), file_source(validation_file) if validation_file else None
    raw = load_dataset_dict(dataset_name, dataset_config_name)
    eval_split = evaluation_split(raw, eval_split, TEXT_EVAL_SPLITS)
    column = find_text_column(raw["train"], text_column)
    evaluation = dataset_source(raw[eval_split], column) if eval_split is not None else None
    return dataset_source(raw["train"], column), evaluation


def find_text_column(dataset: Dataset, text_column: str | None = None) -> str:
    """The column holding text: the one named, else `text`, else the first string column."""
    if text_column is not None:
        if text_column not in dataset.column_names:
            raise ValueError(
                f"--text_column {text_column!r} is not a column of the dataset; "
                f"its columns are {dataset.column_names}."
            )
        return text_column
    if "text" in dataset.column_names:
        return "text"
    for name, feature in dataset.features.items():
        if getattr(feature, "dtype", None) in ("string", "large_string"):
            return name
    raise ValueError(
        f"Found no text column in the dataset (columns: {dataset.column_names}). Name it with --text_column."
    )


def as_long(tokens) -> torch.Tensor:
    """Token ids (a tensor, or a numpy array or memmap of the token store, read now) as an int64 tensor."""
    if isinstance(tokens, torch.Tensor):
        return tokens.long()
    return torch.from_numpy(np.asarray(tokens, dtype=np.int64))


class TokenWindowDataset(torch.utils.data.Dataset):
    """Windows of `block_size` consecutive tokens starting at `starts`; `__getitems__` serves whole batches.

    Use it with `collate_fn=keep_batch`. `random_windows` and `packed_windows` make the two usual `starts`.
    """

    def __init__(self, tokens, block_size: int, starts: torch.Tensor):
        if len(tokens) < block_size:
            raise ValueError(
                f"The text has {len(tokens)} tokens, fewer than one window of --block_size {block_size}. Use more "
                "text or a smaller --block_size."
            )
        self.tokens = tokens
        self.starts = starts
        self.offsets = torch.arange(block_size)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}

    @property
    def nbytes(self) -> int:
        """The bytes the windows would take on a device: the token ids as int64, and the starts."""
        return len(self.tokens) * 8 + self.starts.nbytes

    def to(self, device: torch.device | str) -> "TokenWindowDataset":
        """The same windows with the tokens on `device` (read whole from the token store): batches are cut there."""
        moved = TokenWindowDataset.__new__(TokenWindowDataset)
        moved.tokens = as_long(self.tokens).to(device)
        moved.starts, moved.offsets = self.starts.to(device), self.offsets.to(device)
        return moved

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        starts = self.starts.index_select(0, batch_index(indices, self.starts.device))
        positions = starts[:, None] + self.offsets  # (batch, block_size)
        if isinstance(self.tokens, torch.Tensor):
            windows = self.tokens[positions]
        else:  # the token store: only the windows' pages are read
            windows = as_long(self.tokens[positions.numpy()])
        # The model shifts labels by one itself: position i is scored against token i + 1.
        return {"input_ids": windows, "labels": windows}


def random_windows(num_tokens: int, block_size: int, count: int, seed: int) -> torch.Tensor:
    """`count` uniformly random window starts, drawn up front from `seed` (so a resumed run sees the same)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_tokens - block_size + 1, (count,), generator=generator)


def packed_windows(num_tokens: int, block_size: int) -> torch.Tensor:
    """Starts of consecutive, non-overlapping windows covering the text (the last partial window is dropped)."""
    return torch.arange(0, num_tokens - block_size + 1, block_size)


def load_text_and_tokenizer(
    accelerator,
    dataset_name: str | None,
    dataset_config_name: str | None,
    train_file: str | None,
    validation_file: str | None,
    text_column: str | None,
    eval_split: str | None,
    model_name_or_path: str | None,
    tokenizer_name: str | None,
    preprocessing_num_workers: int | None,
    config_class,
    new_config,
):
    """The training and evaluation token ids (read-only arrays of the token store), the tokenizer and the model
    configuration of a language-model run: a saved model's configuration and tokenizer (`model_name_or_path`), else
    a character vocabulary built from the training text (or the tokenizer `tokenizer_name`) and
    `new_config(vocab_size)`. Without an evaluation text, the last 10% of the training tokens are held out. The main
    process tokenizes (in `preprocessing_num_workers` processes); the others read what it stored. The tokenizer pads
    (on the left, for batched generation) with its end or unknown token where it has no pad token."""
    from transformers import AutoTokenizer

    from ..gpt.tokenization_gpt import CharGptTokenizer

    with accelerator.main_process_first():
        train_source, eval_source = text_sources(
            dataset_name, dataset_config_name, train_file, validation_file, text_column, eval_split
        )
    if model_name_or_path is not None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or model_name_or_path)
        config = config_class.from_pretrained(model_name_or_path)
    else:
        if tokenizer_name is not None:
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_name)
        else:
            tokenizer = CharGptTokenizer.from_text(characters(train_source))
        config = new_config(len(tokenizer))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    with accelerator.main_process_first():
        shown = accelerator.is_local_main_process
        workers = preprocessing_num_workers
        train_tokens = token_store(train_source, tokenizer, show_progress=shown, num_workers=workers)
        if eval_source is not None:
            eval_tokens = token_store(eval_source, tokenizer, show_progress=shown, num_workers=workers)
        else:
            eval_tokens = None
    if eval_tokens is None:  # hold out the last 10% (a contiguous piece, as the standard splits are)
        cut = int(len(train_tokens) * 0.9)
        train_tokens, eval_tokens = train_tokens[:cut], train_tokens[cut:]
    return train_tokens, eval_tokens, tokenizer, config


def load_streamed_text(
    dataset_name: str,
    dataset_config_name: str | None,
    text_column: str | None,
    eval_split: str | None,
    model_name_or_path: str | None,
    tokenizer_name: str | None,
    config_class,
    new_config,
    block_size: int | None,
    eval_windows: int,
    num_streams: int = 1,
    window_overlap: int = 0,
):
    """`--streaming`: the training text as a `StreamedWindows` read from `datasets.load_dataset(...,
    streaming=True)` as training goes (nothing downloaded ahead, nothing stored), the evaluation token ids (the first
    `eval_windows` windows of the evaluation split, or, without one, of the training stream, which then starts after
    them), the tokenizer and the model configuration. The vocabulary cannot come from a pass over a stream: the
    tokenizer is a saved model's or `tokenizer_name`. The windows are `block_size` tokens (None: the model's context,
    `n_positions`), each drawn `window_overlap` tokens into the next (the RNN's last target is the next window's
    first token)."""
    from datasets import load_dataset
    from transformers import AutoTokenizer

    if tokenizer_name is None and model_name_or_path is None:
        raise ValueError(
            "--streaming reads the text once, as it trains, so no character vocabulary can be built from it first: "
            "give the tokenizer with --tokenizer_name (or continue a saved model with --model_name_or_path)."
        )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or model_name_or_path)
    if model_name_or_path is not None:
        config = config_class.from_pretrained(model_name_or_path)
    else:
        config = new_config(len(tokenizer))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    block_size = block_size or config.n_positions
    try:
        raw = load_dataset(dataset_name, dataset_config_name, streaming=True)
    except (FileNotFoundError, ConnectionError) as error:
        raise ValueError(f"Could not stream the dataset {dataset_name!r}: {error}") from error
    eval_split = evaluation_split(raw, eval_split, TEXT_EVAL_SPLITS)
    column = find_text_column(raw["train"], text_column)
    encode = encoder(tokenizer)
    held_out = eval_split is None  # the training stream's first windows are the evaluation's
    evaluation = StreamedWindows(raw[eval_split or "train"], column, encode, block_size)
    eval_tokens = evaluation.take(eval_windows)
    if eval_tokens is None:
        raise ValueError(
            f"The {'training' if held_out else eval_split} text has fewer than --max_eval_windows {eval_windows} "
            f"windows of {block_size} tokens to evaluate on."
        )
    # held out: every row the evaluation read from (the last one perhaps in part) is left out of training
    rows = raw["train"].skip(evaluation.rows_read) if held_out else raw["train"]
    evaluation.close()
    train = StreamedWindows(rows, column, encode, block_size, num_streams, window_overlap)
    return train, eval_tokens.reshape(-1), tokenizer, config


class StreamedWindows:
    """Windows of token ids read from a streamed dataset (`datasets.load_dataset(..., streaming=True)`) as training
    goes, for corpora too large to download: the rows are tokenized as they arrive, joined by line ends as the token
    store joins them, and cut into consecutive windows of `block_size` tokens.

    With `num_streams` 1 (the GPT), every window continues the one before. With N streams (the RNN), the rows are
    dealt out in turn to N streams (row i to stream i mod N) and each draw takes the next window of every stream, so
    each stream reads on where it stopped, as the RNN's state does.

    The position is exact: `state_dict()` holds the dataset's own position (the rows read) and the tokens read but not
    yet served, and `load_state_dict` continues from it. Register the object with
    `accelerator.register_for_checkpointing`, and a resumed run reads the very windows an uninterrupted one would.
    Rows are read in their stored order: `datasets`' shuffle buffers are lost on resume, so none is used.
    """

    def __init__(self, rows, column: str, encode, block_size: int, num_streams: int = 1, window_overlap: int = 0):
        self.rows = rows
        self.column = column
        self.encode = encode
        self.block_size = block_size
        self.num_streams = num_streams
        self.window_overlap = window_overlap
        self._restart()

    def _restart(self, state: dict | None = None) -> None:
        if state is not None:
            self.rows.load_state_dict(state["rows"])
        self._iterator = None  # started on the first draw, after any state is loaded
        empty = [[] for _ in range(self.num_streams)]
        self.buffers = [np.asarray(ids, dtype=np.int64) for ids in (state["buffers"] if state else empty)]
        self.rows_read = state["rows_read"] if state else 0
        self.windows_served = state["windows_served"] if state else 0

    def _read_row(self) -> bool:
        """Tokenize the next row into the stream whose turn it is; False at the end of the dataset."""
        if self._iterator is None:
            self._iterator = iter(self.rows)
        try:
            row = next(self._iterator)
        except StopIteration:
            return False
        stream = self.rows_read % self.num_streams
        first_of_stream = self.rows_read < self.num_streams
        text = row[self.column] if first_of_stream else "\n" + row[self.column]
        self.buffers[stream] = np.concatenate([self.buffers[stream], self.encode(text)])
        self.rows_read += 1
        return True

    def draw(self) -> torch.Tensor | None:
        """The next window of every stream, as a (num_streams, block_size + window_overlap) int64 tensor (the next
        draw starts `block_size` tokens on); None when the dataset ends before every stream has one."""
        width = self.block_size + self.window_overlap
        while any(len(buffer) < width for buffer in self.buffers):
            if not self._read_row():
                return None
        windows = np.stack([buffer[:width] for buffer in self.buffers])
        self.buffers = [buffer[self.block_size :] for buffer in self.buffers]
        self.windows_served += 1
        return torch.from_numpy(windows)

    def take(self, count: int) -> torch.Tensor | None:
        """`count` consecutive draws of the single stream (a batch of GPT windows), or None at the end."""
        windows = []
        for _ in range(count):
            window = self.draw()
            if window is None:
                return None
            windows.append(window[0])
        return torch.stack(windows)

    def close(self) -> None:
        """Stop reading (the dataset's open files and connections are closed now, not at exit)."""
        if self._iterator is not None and hasattr(self._iterator, "close"):
            self._iterator.close()
        self._iterator = None

    def state_dict(self) -> dict:
        return {
            "rows": self.rows.state_dict(),
            "buffers": [buffer.tolist() for buffer in self.buffers],
            "rows_read": self.rows_read,
            "windows_served": self.windows_served,
        }

    def load_state_dict(self, state: dict) -> None:
        self._restart(state)


class StreamedBatches:
    """This process's batches of GPT windows from a `StreamedWindows`, iterated in the training loop as a dataloader
    is: every process reads the stream whole and keeps its own rows of each global batch of `batch_size x
    num_processes` windows, so N processes at batch B train on what one process at N x B does. It is not prepared by
    accelerate, whose dispatching and reading ahead would move the stream past the position a checkpoint saves.
    `len` is the batches it serves in all (the run's length), those served before a resume included; it ends early,
    with a warning, where the data does."""

    def __init__(self, stream: StreamedWindows, batch_size: int, accelerator, max_batches: int):
        self.stream = stream
        self.batch_size = batch_size
        self.accelerator = accelerator
        self.max_batches = max_batches

    def __len__(self) -> int:
        return self.max_batches

    def set_epoch(self, epoch: int) -> None:
        """One pass over the stream: there are no epochs to reshuffle."""

    def __iter__(self):
        rank, size = self.accelerator.process_index, self.batch_size
        served = self.stream.windows_served // (size * self.accelerator.num_processes)  # before a resume, too
        for _ in range(self.max_batches - served):
            windows = self.stream.take(size * self.accelerator.num_processes)
            if windows is None:
                logger.warning(f"The streamed dataset ended after {self.stream.windows_served:,} windows.")
                return
            local = windows[rank * size : (rank + 1) * size].to(self.accelerator.device)
            yield {"input_ids": local, "labels": local}


def new_config_from_overrides(config, overrides: str | None):
    """`config` with `overrides` ("key=value,...", the --config_overrides flag) applied, each value read as the type
    of the value it replaces, then rebuilt so that its checks run on the new values. A malformed pair, an unknown key
    or a value of the wrong type is a ValueError that names it."""
    if overrides:
        values = {}
        for piece in overrides.split(","):
            key, equals, text = (part.strip() for part in piece.partition("="))
            if not key or not equals or not text:
                raise ValueError(
                    f'--config_overrides takes key=value pairs separated by commas (e.g. "n_layer=6,n_head=6"); '
                    f"{piece!r} is not one."
                )
            current = getattr(config, key, None)
            if key not in config.to_dict():
                own = inspect.signature(type(config).__init__).parameters
                known = ", ".join(name for name in own if name not in ("self", "kwargs"))
                raise ValueError(f"--config_overrides: this model has no {key!r}; its settings: {known}.")
            values[key] = _read_as(text, current, key)
        config.update(values)
    return type(config)(**config.to_dict())


def _read_as(text: str, current, key: str):
    """`text` as a value of the type of `current`, the value it replaces (a number where that is None and the text
    reads as one)."""
    if isinstance(current, bool):
        if text.lower() in ("true", "1", "false", "0"):
            return text.lower() in ("true", "1")
        raise ValueError(f"--config_overrides: {key} takes true or false (it is {current}), got {text!r}.")
    if isinstance(current, (int, float)):
        try:
            return type(current)(text)
        except ValueError:
            kind = "a whole number" if isinstance(current, int) else "a number"
            raise ValueError(f"--config_overrides: {key} takes {kind} (it is {current}), got {text!r}.") from None
    if current is None:  # a setting left to its default, such as n_inner
        for number in (int, float):
            with contextlib.suppress(ValueError):
                return number(text)
    return text


def save_text_model(output_dir: str, model, tokenizer, state_dict, samples: list[str], files: dict | None = None):
    """A language model (with `state_dict`, gathered from every process) and its tokenizer saved as one folder, with
    the text samples and `files` (the card, the results) beside them, in one swap."""
    from .checkpointing import save_pretrained_atomically

    files = {"samples.txt": "\n\n".join(samples) + "\n", **(files or {})}
    save_pretrained_atomically(output_dir, model, tokenizer, state_dict=state_dict, files=files)
