"""Text data for the language-model scripts: a dataset or text files in, the token ids of each split out; the
tokenizer (a character vocabulary built from the text, or an existing one) and a new model's configuration.

The text is read piece by piece and tokenized once into a token store on disk (`token_store.py`), reused by later
runs on the same text; training cuts windows of `block_size` tokens out of it a whole batch at a time (as nanoGPT's
`get_batch` does), so memory does not grow with the corpus and nothing is tokenized or collated in the loop.
"""

import contextlib
import inspect
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset

from .data import batch_index, load_dataset_dict
from .token_store import TextSource, characters, dataset_source, file_source, token_store

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
    if "train" not in raw:
        raise ValueError(f"The dataset has no 'train' split; its splits are {list(raw)}.")
    if eval_split is not None and eval_split not in raw:
        raise ValueError(f"The dataset has no split {eval_split!r}; its splits are {list(raw)}.")
    eval_split = eval_split or next((s for s in TEXT_EVAL_SPLITS if s in raw), None)
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
