"""Dataset loading for the training scripts: a Hub id or a local folder in, batches of tensors out.

Where the decoded images fit the memory budget, they are decoded once into one uint8 tensor and training indexes it
a whole batch at a time (`ImageTensorDataset.__getitems__`): no PIL decoding or per-sample collation in the training
loop. Larger sets stay in their memory-mapped Arrow files and each batch is decoded as it is read, in DataLoader
workers (`ImageBatchDataset`); both serve the same batches.
"""

import copy
import itertools
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict, IterableDataset, load_dataset
from datasets import Image as ImageFeature
from datasets.exceptions import DatasetNotFoundError
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

# Splits tried, in order, for evaluation when the caller names none.
EVAL_SPLIT_CANDIDATES = ("test", "validation", "valid", "val")
# ImageTensorDataset normalizes the whole set up front when its float copy takes at most this.
NORMALIZED_BYTES = 2**30
# A streamed dataset's evaluation examples read into memory, where --max_eval_samples names no number.
STREAMED_EVAL_EXAMPLES = 10_000
IMAGE_COLUMN_CANDIDATES = ("image", "img", "pixel_values")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "target")


def load_dataset_dict(dataset_name: str, dataset_config_name: str | None = None) -> DatasetDict:
    """`datasets.load_dataset` with a clear error when the dataset cannot be found or reached."""
    try:
        dataset = load_dataset(dataset_name, dataset_config_name)
    except (FileNotFoundError, DatasetNotFoundError, ConnectionError) as error:
        kind = "local folder" if Path(dataset_name).exists() else "Hub dataset id or local folder"
        raise ValueError(
            f"Could not load the dataset {dataset_name!r} (read as a {kind}): {error}\n"
            "Pass --dataset_name a Hub dataset id such as 'ylecun/mnist' (online, or cached with HF_HUB_OFFLINE=1) "
            "or a local folder in the Hub repository layout (data files plus README.md)."
        ) from error
    except ValueError as error:
        match = re.search(r'Instruction "(\w+)" corresponds to no data', str(error))
        if match is None:
            raise
        raise ValueError(
            f"The dataset {dataset_name!r} has an empty {match.group(1)!r} split: give it at least one example."
        ) from error
    if not isinstance(dataset, DatasetDict):
        dataset = DatasetDict({"train": dataset})
    return dataset


def load_image_folders(train_dir: str, validation_dir: str | None = None) -> DatasetDict:
    """Image folders (one subfolder per class, named after it) as a DatasetDict with "train" and, where given,
    "validation" splits, through `datasets`' imagefolder builder: labels come from the subfolder names."""
    files = {"train": _image_files(train_dir, "--train_dir")}
    if validation_dir is not None:
        files["validation"] = _image_files(validation_dir, "--validation_dir")
    dataset = load_dataset("imagefolder", data_files=files)
    classes = {split: part.features["label"].names for split, part in dataset.items() if "label" in part.features}
    if len(classes.get("train", [])) < 2:
        raise ValueError(
            f"--train_dir {train_dir} must hold one subfolder per class (at least two), each with its images; found "
            f"classes {classes.get('train', [])}."
        )
    if "validation" in classes and classes["validation"] != classes["train"]:
        raise ValueError(
            f"--validation_dir has the classes {classes['validation']}, --train_dir {classes['train']}: use the same "
            "subfolder names in both."
        )
    return dataset


def _image_files(folder: str, flag: str) -> list[str]:
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{flag} {folder} is not a folder.")
    extensions = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
    files = sorted(str(p) for p in root.glob("*/*") if p.suffix.lower() in extensions and p.is_file())
    if not files:
        raise ValueError(
            f"{flag} {folder} holds no images in class subfolders ({folder}/<class>/<image>.jpg, .png, ...)."
        )
    return files


def evaluation_split(
    splits, eval_split: str | None, candidates: tuple[str, ...] = EVAL_SPLIT_CANDIDATES
) -> str | None:
    """The evaluation split of a dataset's `splits` (a DatasetDict, streamed or not): the one named, else the first
    of `candidates` it has, else None; a dataset without "train", or without the named split, is a ValueError."""
    if "train" not in splits:
        raise ValueError(f"The dataset has no 'train' split; its splits are {list(splits)}.")
    if eval_split is not None and eval_split not in splits:
        raise ValueError(f"The dataset has no split {eval_split!r}; its splits are {list(splits)}.")
    return eval_split or next((name for name in candidates if name in splits), None)


def split_train_eval(
    dataset: DatasetDict, eval_split: str | None = None, eval_fraction: float = 0.1, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Return (train, eval): the named or first-found evaluation split, else a seeded slice of train."""
    eval_split = evaluation_split(dataset, eval_split)
    if eval_split is not None:
        return dataset["train"], dataset[eval_split]
    logger.info(f"No evaluation split found; holding out {eval_fraction:.0%} of 'train' for evaluation.")
    parts = dataset["train"].train_test_split(test_size=eval_fraction, seed=seed)
    return parts["train"], parts["test"]


def find_image_column(dataset: Dataset, image_column: str | None = None) -> str:
    """The column holding images: the one named, else the first `Image` feature, else a usual name."""
    return _find_column(dataset, image_column, ImageFeature, IMAGE_COLUMN_CANDIDATES, "image")


def find_label_column(dataset: Dataset, label_column: str | None = None) -> str:
    """The column holding class labels: the one named, else the first `ClassLabel` feature, else a usual name."""
    return _find_column(dataset, label_column, ClassLabel, LABEL_COLUMN_CANDIDATES, "label")


def _find_column(dataset: Dataset, name: str | None, feature_type: type, candidates: tuple, kind: str) -> str:
    if name is not None:
        if name not in dataset.column_names:
            raise ValueError(
                f"--{kind}_column {name!r} is not a column of the dataset; its columns are {dataset.column_names}."
            )
        return name
    for column, feature in dataset.features.items():
        if isinstance(feature, feature_type):
            return column
    for column in candidates:
        if column in dataset.column_names:
            return column
    raise ValueError(
        f"Found no {kind} column in the dataset (columns: {dataset.column_names}). Name it with --{kind}_column."
    )


def label_names(dataset: Dataset, label_column: str, labels: torch.Tensor) -> list[str]:
    """Class names: the `ClassLabel` names when the dataset has them, else the label values as strings."""
    feature = dataset.features[label_column]
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    return [str(i) for i in range(int(labels.max()) + 1)] if len(labels) else []


def decode_labels(dataset: Dataset, label_column: str) -> torch.Tensor:
    """All labels as one int64 tensor (through the torch formatter: `dataset[column]` is slow for large sets)."""
    labels = dataset.select_columns([label_column]).with_format("torch")[:][label_column]
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dim() != 1:
        raise ValueError(
            f"The label column {label_column!r} must hold one integer class index per example; got "
            f"{dataset.features[label_column]}. Name another column with --label_column."
        )
    return labels.long()


def decode_images(dataset: Dataset, image_column: str, num_channels: int = 1, size: int | None = None) -> torch.Tensor:
    """All images as one uint8 tensor (N, num_channels, size, size), decoded once.

    RGB, RGBA, palette or grayscale images are converted to `num_channels` (1: "L", 3: "RGB"); images of another
    size are resized (area-averaged when shrinking).
    """
    if not isinstance(dataset.features[image_column], ImageFeature):
        raise ValueError(
            f"The column {image_column!r} does not hold images (its feature is {dataset.features[image_column]}). "
            "Name the image column with --image_column."
        )
    if num_channels not in (1, 3):
        raise ValueError(f"Images can be decoded to 1 (grayscale) or 3 (RGB) channels, not {num_channels}.")
    mode = "L" if num_channels == 1 else "RGB"
    column = dataset.select_columns([image_column]).cast_column(image_column, ImageFeature(mode=mode))
    if len(column) == 0:
        raise ValueError("The dataset split is empty: there are no images to train or evaluate on.")
    # Fast path: images of one size come back from Arrow as a single (N, H, W[, C]) array.
    array = column.with_format("numpy")[:][image_column]
    if isinstance(array, np.ndarray) and array.dtype == np.uint8:
        images = torch.from_numpy(array)
        images = images[:, None] if images.dim() == 3 else images.permute(0, 3, 1, 2)
        if size is not None and images.shape[-2:] != (size, size):
            images = _resize_batch(images, size)
        return images.contiguous()
    # Mixed sizes: image by image, each as `pil_images_to_tensor` makes it (as the per-batch path does too).
    if size is None:
        raise ValueError("The images differ in size; pass --resolution to resize them to one size.")
    return torch.cat(
        [
            pil_images_to_tensor(batch[image_column], num_channels, size)
            for batch in column.iter(batch_size=1024)  # 1024 pictures in memory at a time
        ]
    )


def pil_images_to_tensor(images: list, num_channels: int, size: int) -> torch.Tensor:
    """PIL images as one uint8 tensor (N, num_channels, size, size): converted to "L" or "RGB", and resized one by
    one as `decode_images` resizes a whole set (so each image comes out the same whichever path decodes it)."""
    mode = "L" if num_channels == 1 else "RGB"
    tensors = []
    for image in images:
        array = torch.from_numpy(np.array(image.convert(mode)))
        array = array[None] if array.dim() == 2 else array.permute(2, 0, 1)
        if array.shape[-2:] != (size, size):
            array = _resize_batch(array[None], size)[0]
        tensors.append(array)
    return torch.stack(tensors)


def _resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 (N, C, H, W) batch to (N, C, size, size) with anti-aliasing, in chunks to bound memory."""
    chunks = []
    for chunk in images.split(4096):
        resized = torch.nn.functional.interpolate(
            chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        chunks.append(resized.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(chunks)


def check_labels(labels: torch.Tensor, num_labels: int, split: str) -> None:
    """Raise a clear error when labels fall outside `[0, num_labels)` (None: labels read as training goes)."""
    if labels is None or len(labels) == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_labels:
        raise ValueError(
            f"The {split} labels span [{low}, {high}] but the model has num_labels={num_labels} (classes "
            f"0..{num_labels - 1}). The dataset and the model's config do not match: check --label_column, or "
            "train a model whose config has as many labels as the dataset has classes."
        )


@dataclass
class ImageSplits:
    """The training and evaluation splits of an image dataset, with what every image script reads from them."""

    train: Dataset
    eval: Dataset
    image_column: str
    label_column: str | None  # None for unlabelled training
    train_labels: torch.Tensor  # int64 class indices (zeros when unlabelled)
    class_names: list[str]  # empty when unlabelled


def load_image_splits(
    accelerator,
    dataset_name: str,
    dataset_config_name: str | None = None,
    eval_split: str | None = None,
    seed: int = 0,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    labelled: bool = True,
    train_dir: str | None = None,
    validation_dir: str | None = None,
    streaming: bool = False,
) -> ImageSplits:
    """The head every image script shares: load the dataset (the main process first, so that the others read its
    cache) or the image folders `train_dir`/`validation_dir`, split it, cut the quick-run limits, find the columns and
    decode the training labels. With `streaming`, see `streamed_image_splits`."""
    if streaming:
        if train_dir is not None:
            raise ValueError(
                "--streaming streams a dataset (--dataset_name); an image folder is read from disk as is."
            )
        return streamed_image_splits(
            dataset_name,
            dataset_config_name,
            eval_split,
            max_train_samples,
            max_eval_samples,
            image_column,
            label_column,
            labelled,
        )
    with accelerator.main_process_first():
        if train_dir is not None:
            raw_datasets = load_image_folders(train_dir, validation_dir)
        else:
            raw_datasets = load_dataset_dict(dataset_name, dataset_config_name)
    train, evaluation = split_train_eval(raw_datasets, eval_split, seed=seed)
    if max_train_samples is not None:
        train = train.select(range(min(max_train_samples, len(train))))
    if max_eval_samples is not None:
        evaluation = evaluation.select(range(min(max_eval_samples, len(evaluation))))
    image_column = find_image_column(train, image_column)
    if not labelled:
        return ImageSplits(train, evaluation, image_column, None, torch.zeros(len(train), dtype=torch.long), [])
    label_column = find_label_column(train, label_column)
    labels = decode_labels(train, label_column)
    return ImageSplits(train, evaluation, image_column, label_column, labels, label_names(train, label_column, labels))


def streamed_image_splits(
    dataset_name: str,
    dataset_config_name: str | None,
    eval_split: str | None,
    max_train_samples: int | None,
    max_eval_samples: int | None,
    image_column: str | None,
    label_column: str | None,
    labelled: bool,
) -> ImageSplits:
    """`--streaming`: the training split as a `datasets.IterableDataset` read as training goes (nothing downloaded
    ahead), and the evaluation split's first `max_eval_samples` (default 10,000) examples read into memory (without
    an evaluation split: the training stream's first ones, which training then skips). The class names come from the
    label column's `ClassLabel`; the training labels are read with their images (`train_labels` is None)."""
    from datasets import load_dataset

    try:
        raw = load_dataset(dataset_name, dataset_config_name, streaming=True)
    except (FileNotFoundError, DatasetNotFoundError, ConnectionError) as error:
        raise ValueError(f"Could not stream the dataset {dataset_name!r}: {error}") from error
    eval_split = evaluation_split(raw, eval_split)
    train = raw["train"]
    image_column = find_image_column(train, image_column)
    count = max_eval_samples or STREAMED_EVAL_EXAMPLES
    evaluation = stream_head(raw[eval_split] if eval_split else train, image_column, count)
    if eval_split is None:
        logger.info(f"No evaluation split: the first {len(evaluation):,} training examples are held out for it.")
        train = train.skip(len(evaluation))
    if max_train_samples is not None:
        train = train.take(max_train_samples)
    if not labelled:
        return ImageSplits(train, evaluation, image_column, None, None, [])
    label_column = find_label_column(evaluation, label_column)
    feature = evaluation.features[label_column]
    if not isinstance(feature, ClassLabel):
        raise ValueError(
            f"--streaming reads the labels as training goes, so their classes must be named by the dataset: the "
            f"column {label_column!r} is {feature}, not a ClassLabel. Train without --streaming."
        )
    return ImageSplits(train, evaluation, image_column, label_column, None, list(feature.names))


def stream_head(stream, image_column: str, count: int) -> Dataset:
    """The first `count` examples of a streamed split as an in-memory `Dataset` (the images kept encoded)."""
    undecoded = stream.cast_column(image_column, ImageFeature(decode=False))
    rows = list(itertools.islice(undecoded, count))
    if not rows:
        raise ValueError("The dataset split is empty: there are no images to train or evaluate on.")
    return Dataset.from_list(rows, features=stream.features)


def first_images(dataset, image_column: str, count: int) -> list:
    """The first `count` images (PIL) of a dataset, streamed or not."""
    if isinstance(dataset, IterableDataset):
        return [row[image_column] for row in itertools.islice(dataset, count)]
    return dataset.select(range(min(count, len(dataset))))[image_column]


class StreamedImages:
    """The images (and labels) of a streamed split, as `image_datasets` serves a split read with `--streaming`: read
    in order, in batches, by `StreamedImageBatches`; `decode` and the normalization are the in-memory path's."""

    def __init__(self, rows, image_column: str, label_column: str | None, decode, mean, std):
        self.rows = rows
        self.first_rows = copy.deepcopy(rows)  # the stream from its start, whatever position training loads
        self.image_column, self.label_column = image_column, label_column
        self.decode = decode
        self.normalize = Normalize(mean, std)

    def batch(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        images = self.normalize(self.decode([row[self.image_column] for row in rows]))
        if self.label_column is None:
            return {"pixel_values": images, "labels": torch.zeros(len(rows), dtype=torch.long)}
        return {"pixel_values": images, "labels": torch.tensor([row[self.label_column] for row in rows])}

    def pixels(self, indices) -> torch.Tensor:
        """The uint8 images at `indices` counted from the stream's start (those it has)."""
        wanted = list(indices)
        rows = list(itertools.islice(self.first_rows, max(wanted) + 1))
        return self.decode([rows[index][self.image_column] for index in wanted if index < len(rows)])


def example_count(dataset) -> int | str:
    """How many examples a training dataset holds, or "streamed" where that is not known ahead."""
    return "streamed" if isinstance(dataset, StreamedImages) else len(dataset)


def first_pixels(dataset, count: int) -> torch.Tensor:
    """The uint8 images of a training dataset's first `count` examples (all of them where it has fewer)."""
    if isinstance(dataset, StreamedImages):
        return dataset.pixels(range(count))
    return dataset.pixels(range(min(count, len(dataset))))


class StreamedImageBatches:
    """This process's batches of a `StreamedImages`, iterated in the training loop as a dataloader is (accelerate's
    `prepare` passes it through untouched): every process reads the stream and decodes its own rows of each global
    batch of `batch_size x num_processes` examples, so N processes at batch B train as one at N x B. Register it with
    `accelerator.register_for_checkpointing`: a checkpoint holds the position in the stream (`datasets`'
    `IterableDataset.state_dict`, and the batches served), and a resumed run reads on from there. `len` is the
    batches it serves in all, those before a resume included."""

    def __init__(self, images: StreamedImages, batch_size: int, accelerator, max_batches: int):
        self.images = images
        self.batch_size = batch_size
        self.accelerator = accelerator
        self.max_batches = max_batches
        self.batches_served = 0  # in all, before a resume too
        self._iterator = None

    def __len__(self) -> int:
        return self.max_batches

    def set_epoch(self, epoch: int) -> None:
        """One pass over the stream: there are no epochs to reshuffle."""

    def __iter__(self):
        rank, size = self.accelerator.process_index, self.batch_size
        if self._iterator is None:
            self._iterator = iter(self.images.rows)
        while self.batches_served < self.max_batches:
            rows = list(itertools.islice(self._iterator, size * self.accelerator.num_processes))
            if len(rows) < size * self.accelerator.num_processes:
                logger.warning("The streamed dataset ended: training stops here.")
                return
            self.batches_served += 1
            batch = self.images.batch(rows[rank * size : (rank + 1) * size])
            yield {key: value.to(self.accelerator.device) for key, value in batch.items()}

    def state_dict(self) -> dict:
        return {"rows": self.images.rows.state_dict(), "batches_served": self.batches_served}

    def load_state_dict(self, state: dict) -> None:
        self.images.rows.load_state_dict(state["rows"])
        self.batches_served = state["batches_served"]
        self._iterator = None


class ImageTensorDataset(torch.utils.data.Dataset):
    """In-memory uint8 images and int64 labels, served as normalized float batches.

    The images are normalized once, up front, when their float copy takes at most `max_normalized_bytes` (MNIST's
    60,000 training images: 188 MB): a batch is then one gather, as in a plain PyTorch loop over float tensors. Larger
    datasets stay uint8 and each batch is normalized as it is cut. Either way the values are the same.

    `__getitems__` lets `torch.utils.data.DataLoader` fetch a whole batch with one tensor index; use it with
    `collate_fn=keep_batch`.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: float | list[float],
        std: float | list[float],
        max_normalized_bytes: int = NORMALIZED_BYTES,
    ):
        if len(images) != len(labels):
            raise ValueError(f"Got {len(images)} images but {len(labels)} labels.")
        self.images = images
        self.labels = labels
        self.mean = mean
        self.std = std
        self.max_normalized_bytes = max_normalized_bytes
        self._normalize = Normalize(mean, std, images.device)
        fits = images.numel() * 4 <= max_normalized_bytes
        self._normalized = self._normalize(images) if fits else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        batch = self.__getitems__([index])
        return {key: value[0] for key, value in batch.items()}

    @property
    def nbytes(self) -> int:
        normalized = self._normalized.nbytes if self._normalized is not None else 0
        return self.images.nbytes + normalized + self.labels.nbytes

    def to(self, device: torch.device | str) -> "ImageTensorDataset":
        """The same dataset with its tensors on `device`: batches are then cut and normalized there."""
        return ImageTensorDataset(
            self.images.to(device), self.labels.to(device), self.mean, self.std, self.max_normalized_bytes
        )

    def pixels(self, indices: list[int]) -> torch.Tensor:
        """The uint8 images (N, C, S, S) at `indices`."""
        return self.images.index_select(0, batch_index(indices, self.images.device))

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = batch_index(indices, self.images.device)
        if self._normalized is not None:
            pixel_values = self._normalized.index_select(0, index)  # index_select is much faster than x[index]
        else:
            pixel_values = self._normalize(self.images.index_select(0, index))
        return {"pixel_values": pixel_values, "labels": self.labels.index_select(0, index)}


class ImageBatchDataset(torch.utils.data.Dataset):
    """The images of a `datasets.Dataset`, decoded when a batch is read (in DataLoader workers, with
    `num_workers`), for sets whose decoded images would not fit in memory: only the Arrow files, memory-mapped, and
    the batches in flight take room.

    `decode` turns a list of PIL images into a uint8 tensor (N, C, S, S), each image on its own, so a batch holds the
    same values as the same images cut from the decoded set; normalized with the same `mean` and `std`, the batches
    equal `ImageTensorDataset`'s. `labels` are in memory (8 bytes an example).
    """

    def __init__(self, dataset: Dataset, image_column: str, labels: torch.Tensor, decode, mean, std):
        if len(dataset) != len(labels):
            raise ValueError(f"Got {len(dataset)} images but {len(labels)} labels.")
        self.dataset = dataset.select_columns([image_column])
        self.image_column = image_column
        self.labels = labels
        self.decode = decode
        self.mean, self.std = mean, std
        self.device = torch.device("cpu")
        self._normalize = Normalize(mean, std)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        batch = self.__getitems__([index])
        return {key: value[0] for key, value in batch.items()}

    def pixels(self, indices: list[int]) -> torch.Tensor:
        """The uint8 images (N, C, S, S) at `indices`."""
        return self.decode(self.dataset[list(indices)][self.image_column])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = batch_index(indices, torch.device("cpu"))
        batch = {"pixel_values": self._normalize(self.pixels(indices)), "labels": self.labels.index_select(0, index)}
        return {key: value.to(self.device) for key, value in batch.items()}

    def to(self, device: torch.device | str) -> "ImageBatchDataset":
        """The same dataset serving its batches on `device` (decoded on the CPU, then moved)."""
        moved = ImageBatchDataset(self.dataset, self.image_column, self.labels, self.decode, self.mean, self.std)
        moved.device = torch.device(device)
        return moved


class Normalize:
    """uint8 images to floats `(x / 255 - mean) / std`, as one multiply and one subtract; a mean and std per channel
    broadcast over (C, 1, 1)."""

    def __init__(self, mean: float | list[float], std: float | list[float], device: torch.device | None = None):
        if isinstance(mean, (int, float)) and isinstance(std, (int, float)):
            self.scale, self.shift = 1.0 / (255.0 * std), mean / std
        else:
            channels = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
            mean_t, std_t = (t.reshape(-1, 1, 1).to(device) for t in channels)
            self.scale, self.shift = 1.0 / (255.0 * std_t), mean_t / std_t

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mul_(self.scale).sub_(self.shift)


def memory_limit(proc_cgroup: str | Path = "/proc/self/cgroup", cgroup_root: str | Path = "/sys/fs/cgroup") -> int:
    """The bytes this process may use: the tightest memory-cgroup limit on it (cgroup v2 `memory.max`, v1
    `memory.limit_in_bytes`, over its own group and those above, as containers set them: Docker, Kubernetes,
    Spaces), else the machine's physical memory."""
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        groups = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return limit
    for line in groups:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            root, name = Path(cgroup_root), "memory.max"
        elif "memory" in controllers.split(","):
            root, name = Path(cgroup_root) / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = root / path.lstrip("/")
        # the group and those above it, up to the root (inside a container, its own group is the root)
        for candidate in (folder, *folder.parents[: len(folder.relative_to(root).parts)]):
            try:
                value = (candidate / name).read_text().strip()
            except OSError:
                continue
            if value.isdigit():
                limit = min(limit, int(value))
    return limit


def in_memory_bytes(count: int, image_shape: tuple[int, ...]) -> int:
    """The peak memory of decoding `count` images of `image_shape` into an `ImageTensorDataset`: the uint8 images
    while they are gathered and once stacked, and their normalized float copy when it is made."""
    uint8 = count * math.prod(image_shape)
    return 2 * uint8 + (4 * uint8 if 4 * uint8 <= NORMALIZED_BYTES else 0)


def images_fit(count: int, image_shape: tuple[int, ...], memory_budget: float | None) -> bool:
    """Whether `count` decoded images fit `memory_budget` bytes (None: a quarter of `memory_limit()`)."""
    budget = memory_limit() / 4 if memory_budget is None else memory_budget
    needed = in_memory_bytes(count, image_shape)
    if needed <= budget:
        logger.info(
            f"Decoding {count:,} images into memory: {needed / 2**30:.2f} GB of a {budget / 2**30:.2f} GB budget."
        )
        return True
    logger.info(
        f"Decoding images batch by batch as they are read: all {count:,} would take {needed / 2**30:.2f} GB, over the "
        f"{budget / 2**30:.2f} GB budget (--memory_budget)."
    )
    return False


def image_datasets(
    splits: dict[str, tuple[Dataset, torch.Tensor]],
    image_column: str,
    decode,
    mean,
    std,
    image_shape: tuple[int, int, int],
    memory_budget: float | None,
    label_column: str | None = None,
) -> list["ImageTensorDataset | ImageBatchDataset | StreamedImages"]:
    """Each split's (images, labels) as a dataset serving normalized batches of the images as `decode` makes them
    (`image_shape`): when all of them fit `memory_budget` (see `images_fit`), decoded now into `ImageTensorDataset`s,
    else `ImageBatchDataset`s that decode each batch as it is read. Either way the batches are the same. A streamed
    split (`--streaming`: its labels None, read from `label_column` as it goes) becomes `StreamedImages`, and the
    others, read into memory already, `ImageTensorDataset`s."""
    if any(isinstance(images, IterableDataset) for images, _ in splits.values()):  # --streaming
        return [
            StreamedImages(images, image_column, label_column, decode, mean, std)
            if isinstance(images, IterableDataset)
            else decoded_dataset(split, images, labels, image_column, decode, mean, std)
            for split, (images, labels) in splits.items()
        ]
    in_memory = images_fit(sum(len(images) for images, _ in splits.values()), image_shape, memory_budget)
    if not in_memory:
        return [ImageBatchDataset(data, image_column, labels, decode, mean, std) for data, labels in splits.values()]
    return [
        decoded_dataset(split, images, labels, image_column, decode, mean, std)
        for split, (images, labels) in splits.items()
    ]


def decoded_dataset(split: str, images: Dataset, labels, image_column: str, decode, mean, std) -> ImageTensorDataset:
    """A split's images decoded now, 256 at a time, into an `ImageTensorDataset`."""
    if len(images) == 0:
        raise ValueError(f"The {split} split is empty: there are no images.")
    column, decoded = images.select_columns([image_column]), []
    with tqdm(total=len(column), desc=f"decoding {split}", leave=False) as progress:
        for batch in column.iter(batch_size=256):  # 256 pictures in memory at a time
            decoded.append(decode(batch[image_column]))
            progress.update(len(decoded[-1]))
    return ImageTensorDataset(torch.cat(decoded), labels, mean, std)


def batch_index(indices: list[int], device: torch.device) -> torch.Tensor:
    """A sampler's list of indices as an int64 tensor on `device`: through numpy, 5x faster than `torch.as_tensor`
    on a list of Python ints (8 vs 42 us for 256), about 1.5% of the MNIST MLP's training step."""
    return torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(device)


def keep_on_device(dataset, device: torch.device, max_bytes: int = 2**31):
    """On an accelerator, hold an in-memory dataset (`nbytes`, `to`) in its memory when it is small (MNIST: 47 MB as
    uint8): each batch is then cut on the device, with no host-to-device copy per step. On CPU: unchanged."""
    if device.type == "cpu" or not hasattr(dataset, "nbytes") or dataset.nbytes > max_bytes:
        return dataset
    return dataset.to(device)


def keep_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Collate function for datasets whose `__getitems__` already returns a batch."""
    return batch


def batch_dataloader(dataset, batch_size: int, shuffle: bool, seed: int, num_workers: int | None = None) -> DataLoader:
    """A DataLoader that fetches each batch with one `__getitems__` call (no per-sample collation).

    An `ImageBatchDataset` decodes its batches in `num_workers` worker processes (None: half the CPUs this process
    may use, at least 1, at most 8) while the model trains on the last ones; an in-memory dataset is cut in the
    training process (workers would only copy its batches). It draws its base seed from its own generator rather
    than the global RNG, so starting an iterator (again, after a resume) does not shift the dropout masks that follow.
    """
    if not isinstance(dataset, ImageBatchDataset):
        num_workers = 0
    elif num_workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        num_workers = max(1, min(8, cpus // 2))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=keep_batch,
        generator=torch.Generator().manual_seed(seed),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
