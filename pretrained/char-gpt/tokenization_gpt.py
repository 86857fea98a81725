"""Character-level tokenizer: one token per character of the training text, plus padding and unknown tokens.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

import hashlib
import json
import os

from transformers import PreTrainedTokenizer
from transformers.utils import cached_file

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json"}
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
# from_pretrained's arguments that say where and how to fetch files, passed on to find the model saved beside
HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


class CharGptTokenizer(PreTrainedTokenizer):
    r"""
    Maps each character to an id. Built from a text with [`CharGptTokenizer.from_text`], saved as `vocab.json`.
    Characters not seen in that text become `<unk>`, so any input encodes; `<pad>` pads batches (on the left for
    generation).

    Args:
        vocab_file (`str`): a JSON object mapping each token to its id.

    Example:

    ```python
    >>> from hfnets import CharGptTokenizer

    >>> tokenizer = CharGptTokenizer.from_text("hello world")
    >>> tokenizer("hello")["input_ids"]
    [5, 4, 6, 6, 7]
    >>> tokenizer.decode(tokenizer("hello there")["input_ids"])
    'hello <unk>he<unk>e'
    ```
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    # Words given with `is_split_into_words=True` are joined as they are, with no space put before each.
    add_prefix_space = False

    def __init__(self, vocab_file: str, pad_token: str = PAD_TOKEN, unk_token: str = UNK_TOKEN, **kwargs):
        if vocab_file is None:  # from_pretrained found no vocab.json in the folder
            name = VOCAB_FILES_NAMES["vocab_file"]
            raise ValueError(
                f"No {name} (the character vocabulary) where this tokenizer was loaded from: the folder is "
                "incomplete. Save or download the model again, with its tokenizer (`tokenizer.save_pretrained`)."
            )
        with open(vocab_file, encoding="utf-8") as handle:
            self.encoder: dict[str, int] = json.load(handle)
        if str(unk_token) not in self.encoder:  # saved configs pass it back as an AddedToken
            raise ValueError(
                f"The vocabulary {vocab_file} has no unknown token {str(unk_token)!r}: characters missing from the "
                "vocabulary are encoded as it. Name one of the vocabulary's tokens with `unk_token=`."
            )
        self.decoder = {i: token for token, i in self.encoder.items()}
        kwargs.setdefault("padding_side", "left")  # batched generation continues each prompt from its last token
        # Text is characters: a prompt that contains "<pad>" means those five characters, not the padding token.
        kwargs.setdefault("split_special_tokens", True)
        super().__init__(pad_token=pad_token, unk_token=unk_token, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedTokenizer.from_pretrained`, checked against the model saved in the same folder or repository
        (its `config.json`, where there is one): a vocabulary other than the one that model was trained with is
        refused, since the model's text would come out garbled."""
        tokenizer = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        hub_kwargs = {
            name: kwargs[name]
            for name in (
                "cache_dir",
                "force_download",
                "proxies",
                "token",
                "revision",
                "local_files_only",
                "subfolder",
            )
            if name in kwargs
        }
        config_file = cached_file(
            pretrained_model_name_or_path,
            "config.json",
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub_kwargs,
        )
        if config_file is not None:
            with open(config_file, encoding="utf-8") as handle:
                saved = json.load(handle)
            tokenizer._check_saved_model(saved, pretrained_model_name_or_path)
        return tokenizer

    def _check_saved_model(self, config: dict, where) -> None:
        """Refuse this tokenizer where the model saved beside it (`config`) was trained with another vocabulary."""
        fix = (
            f"Save the model's own tokenizer in {where} (`tokenizer.save_pretrained`), or load the tokenizer from "
            "where the model was trained."
        )
        vocab_size = config.get("vocab_size")
        if isinstance(vocab_size, int) and len(self) > vocab_size:
            raise ValueError(
                f"The tokenizer in {where} has {len(self)} tokens but the model saved there reads {vocab_size}: they "
                f"do not belong together. {fix}"
            )
        expected = config.get("vocab_fingerprint")
        if expected is not None and self.fingerprint(self.get_vocab()) != expected:
            raise ValueError(
                f"The tokenizer in {where} (vocab.json) is not the vocabulary the model saved there was trained with "
                f"(other characters or ids): the model's text would come out garbled. {fix}"
            )

    # Copied from hfnets.gpt.configuration_gpt.CharGptConfig.fingerprint
    @staticmethod
    def fingerprint(vocab: dict[str, int]) -> str:
        """A short digest of a token -> id mapping: equal for the same vocabulary, different otherwise."""
        canonical = json.dumps(sorted(vocab.items(), key=lambda item: item[1]), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str, save_directory: str | None = None, **kwargs) -> "CharGptTokenizer":
        """A tokenizer whose vocabulary is `<pad>`, `<unk>` and the sorted distinct characters of `text`."""
        import tempfile

        characters = sorted(set(text) - {PAD_TOKEN, UNK_TOKEN})
        vocab = {PAD_TOKEN: 0, UNK_TOKEN: 1, **{c: i + 2 for i, c in enumerate(characters)}}
        folder = save_directory or tempfile.mkdtemp(prefix="char-vocab-")
        os.makedirs(folder, exist_ok=True)
        vocab_file = os.path.join(folder, VOCAB_FILES_NAMES["vocab_file"])
        with open(vocab_file, "w", encoding="utf-8") as handle:
            json.dump(vocab, handle, ensure_ascii=False, indent=0)
        return cls(vocab_file, **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.encoder, **self.added_tokens_encoder)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return list(text)

    def _convert_token_to_id(self, token: str) -> int:
        return self.encoder.get(token, self.encoder[str(self.unk_token)])

    def _convert_id_to_token(self, index: int) -> str:
        return self.decoder.get(index, self.unk_token)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def encode_fast(self, text: str) -> list[int]:
        """Ids of every character of a long text, without the generic tokenizer machinery (for training data)."""
        unk = self.encoder[str(self.unk_token)]
        return [self.encoder.get(character, unk) for character in text]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILES_NAMES["vocab_file"]
        path = os.path.join(save_directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.encoder, handle, ensure_ascii=False, indent=0)
        return (path,)


CharGptTokenizer.register_for_auto_class("AutoTokenizer")  # saved beside tokenizer_config.json
