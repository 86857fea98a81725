import re

import pytest
import torch

from hfnets.training.data import (
    ImageTensorDataset,
    batch_dataloader,
    check_labels,
    decode_images,
    decode_labels,
    find_image_column,
    find_label_column,
    label_names,
    load_dataset_dict,
    split_train_eval,
)
from tests.helpers.datasets import make_image_dataset


def test_local_folder_in_hub_layout_loads_and_decodes_once(tmp_path):
    folder = make_image_dataset(tmp_path / "digits", num_rows=10, num_classes=3)
    train, evaluation = split_train_eval(load_dataset_dict(str(folder)))
    assert len(train) == 10 and len(evaluation) == 10
    images = decode_images(train, find_image_column(train), num_channels=1, size=28)
    labels = decode_labels(train, find_label_column(train))
    assert images.dtype == torch.uint8 and images.shape == (10, 1, 28, 28)
    assert labels.tolist() == [i % 3 for i in range(10)]
    assert label_names(train, "label", labels) == ["0", "1", "2"]


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_color_images_are_converted_to_grayscale(tmp_path, mode):
    folder = make_image_dataset(tmp_path / "color", num_rows=4, mode=mode)
    train = load_dataset_dict(str(folder))["train"]
    images = decode_images(train, "image", num_channels=1, size=28)
    assert images.shape == (4, 1, 28, 28)
    rgb = train.with_format("numpy")[:]["image"][0][..., :3].astype(float)
    expected = rgb @ [0.299, 0.587, 0.114]  # ITU-R 601 luma, what PIL's convert("L") computes
    assert (images[0, 0].double() - torch.from_numpy(expected)).abs().max() <= 1.0


def test_images_of_another_size_are_resized(tmp_path):
    folder = make_image_dataset(tmp_path / "big", num_rows=4, size=56)
    train = load_dataset_dict(str(folder))["train"]
    assert decode_images(train, "image", num_channels=1, size=28).shape == (4, 1, 28, 28)
    mixed = load_dataset_dict(str(make_image_dataset(tmp_path / "mixed", num_rows=4, sizes=[20, 36])))["train"]
    assert decode_images(mixed, "image", num_channels=1, size=28).shape == (4, 1, 28, 28)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="(?s)Could not load the dataset .*Pass --dataset_name a Hub dataset id"):
        load_dataset_dict(str(tmp_path / "no-such-dataset"))


def test_columns_are_found_or_named(tmp_path):
    folder = make_image_dataset(
        tmp_path / "renamed", num_rows=4, image_column="picture", label_column="digit", class_label=False
    )
    train = load_dataset_dict(str(folder))["train"]
    assert find_image_column(train) == "picture"  # found by its Image feature
    with pytest.raises(ValueError, match="Found no label column .*--label_column"):
        find_label_column(train)
    assert find_label_column(train, "digit") == "digit"
    with pytest.raises(ValueError, match="--image_column 'img' is not a column of the dataset"):
        find_image_column(train, "img")
    unlabeled = load_dataset_dict(str(make_image_dataset(tmp_path / "unlabeled", num_rows=4, label_column=None)))
    with pytest.raises(ValueError, match="Found no label column"):
        find_label_column(unlabeled["train"])


def test_label_count_mismatch_is_a_clear_error():
    check_labels(torch.tensor([0, 9]), 10, "training")
    with pytest.raises(ValueError, match=r"training labels span \[0, 11\] but the model has num_labels=10"):
        check_labels(torch.tensor([0, 11]), 10, "training")


def test_a_split_is_held_out_when_there_is_no_evaluation_split(tmp_path):
    from datasets import DatasetDict

    train = load_dataset_dict(str(make_image_dataset(tmp_path / "d", num_rows=20)))["train"]
    held_train, held_eval = split_train_eval(DatasetDict({"train": train}))
    assert len(held_train) == 18 and len(held_eval) == 2
    with pytest.raises(ValueError, match="no split 'dev'"):
        split_train_eval(DatasetDict({"train": train}), eval_split="dev")


def test_tensor_dataset_serves_whole_normalized_batches():
    images = torch.arange(8 * 4, dtype=torch.uint8).view(8, 1, 2, 2)
    dataset = ImageTensorDataset(images, torch.arange(8), mean=0.5, std=0.25)
    loader = batch_dataloader(dataset, batch_size=3, shuffle=False, seed=0)
    batches = list(loader)
    assert [len(b["labels"]) for b in batches] == [3, 3, 2]
    expected = (images[:3].float() / 255 - 0.5) / 0.25
    assert torch.allclose(batches[0]["pixel_values"], expected)
    assert dataset[5]["labels"] == 5 and dataset[5]["pixel_values"].shape == (1, 2, 2)
    with pytest.raises(ValueError, match="Got 8 images but 7 labels"):
        ImageTensorDataset(images, torch.arange(7), 0.0, 1.0)


def test_a_dataset_too_large_to_normalize_up_front_serves_the_same_batches():
    images = torch.randint(0, 256, (50, 1, 7, 7), dtype=torch.uint8)
    up_front = ImageTensorDataset(images, torch.arange(50), mean=0.1307, std=0.3081)
    per_batch = ImageTensorDataset(images, torch.arange(50), mean=0.1307, std=0.3081, max_normalized_bytes=1000)
    assert up_front.nbytes > per_batch.nbytes == images.nbytes + 50 * 8  # only the uint8 images are held
    indices = [49, 0, 7, 7, 23]
    assert torch.equal(up_front.__getitems__(indices)["pixel_values"], per_batch.__getitems__(indices)["pixel_values"])


def test_datasets_kept_on_an_accelerator_cut_their_batches_there():
    """The accelerator path, checked on the `meta` device: batches are indexed where the tensors live."""
    from hfnets.training.data import keep_on_device
    from hfnets.training.text_data import TokenWindowDataset

    images = ImageTensorDataset(torch.zeros(8, 1, 4, 4, dtype=torch.uint8), torch.arange(8), 0.5, 0.5)
    assert keep_on_device(images, torch.device("cpu")) is images  # nothing to gain on the CPU
    moved = keep_on_device(images, torch.device("meta"))
    batch = moved.__getitems__([0, 3, 5])
    assert batch["pixel_values"].device.type == "meta" and batch["pixel_values"].shape == (3, 1, 4, 4)
    assert batch["pixel_values"].dtype == torch.float32 and batch["labels"].device.type == "meta"
    assert keep_on_device(images, torch.device("meta"), max_bytes=10) is images  # too big: left in host memory

    windows = TokenWindowDataset(torch.arange(100), block_size=8, starts=torch.tensor([0, 10, 20]))
    batch = keep_on_device(windows, torch.device("meta")).__getitems__([2, 0])
    assert batch["input_ids"].device.type == "meta" and batch["input_ids"].shape == (2, 8)
    assert torch.equal(windows.__getitems__([2, 0])["input_ids"][0], torch.arange(20, 28))


def test_the_image_scripts_shared_head_loads_limits_and_labels(tmp_path):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from hfnets.training.data import load_image_splits

    folder = make_image_dataset(tmp_path / "digits", num_rows=10, num_classes=3)
    accelerator = Accelerator(cpu=True)
    try:
        splits = load_image_splits(accelerator, str(folder), max_train_samples=4, max_eval_samples=2)
        unlabelled = load_image_splits(accelerator, str(folder), labelled=False)
    finally:
        AcceleratorState._reset_state(True)  # the next test's Accelerator starts afresh
    assert (len(splits.train), len(splits.eval)) == (4, 2)
    assert splits.image_column == "image" and splits.label_column == "label"
    assert splits.train_labels.tolist() == [0, 1, 2, 0] and splits.class_names == ["0", "1", "2"]
    assert unlabelled.label_column is None and unlabelled.class_names == []
    assert unlabelled.train_labels.tolist() == [0] * 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("===", "takes key=value pairs separated by commas"),
        ("n_layer", "'n_layer' is not one"),
        ("n_layer=2,,n_head=2", "'' is not one"),
        ("nope=3", "this model has no 'nope'; its settings: vocab_size, n_positions"),
        ("n_layer=two", "n_layer takes a whole number (it is 4), got 'two'"),
        ("dropout=lots", "dropout takes a number"),
        ("bias=maybe", "bias takes true or false"),
    ],
)
def test_config_overrides_that_cannot_be_read_say_which_pair_and_why(overrides, message):
    from hfnets import CharGptConfig
    from hfnets.training.text_data import new_config_from_overrides

    with pytest.raises(ValueError, match=re.escape(message)):
        new_config_from_overrides(CharGptConfig(vocab_size=10), overrides)


def test_config_overrides_take_each_value_as_its_settings_type():
    from hfnets import CharGptConfig
    from hfnets.training.text_data import new_config_from_overrides

    config = new_config_from_overrides(
        CharGptConfig(vocab_size=10), "n_layer=2, n_head=2,dropout=0.1,bias=false,n_inner=64"
    )
    assert (config.n_layer, config.n_head, config.dropout, config.bias, config.n_inner) == (2, 2, 0.1, False, 64)


def test_a_binary_train_file_is_refused_as_not_text(tmp_path, monkeypatch):
    from hfnets.training.text_data import text_sources
    from hfnets.training.token_store import characters

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 8)
    train, _ = text_sources(None, train_file=str(tmp_path / "weights.bin"))
    with pytest.raises(ValueError, match="as UTF-8 text .*give plain text files"):
        characters(train)


def test_a_dataset_with_an_empty_split_names_it(tmp_path):
    from hfnets.training.data import load_dataset_dict

    (tmp_path / "train.csv").write_text("text\n")  # a header and no rows
    with pytest.raises(ValueError, match="has an empty 'train' split: give it at least one example"):
        load_dataset_dict(str(tmp_path))


@pytest.mark.parametrize("sizes", [[28], [56], [20, 36]], ids=["as-is", "resized", "mixed-sizes"])
def test_batches_decoded_as_read_equal_the_decoded_sets_batches(tmp_path, sizes):
    """The per-batch path (for sets over the memory budget) serves the very batches of the in-memory path: images of
    one size, resized, or of mixed sizes alike; the whole-set decoder makes the same pixels as the per-batch one."""
    import functools

    from hfnets.training.data import ImageBatchDataset, image_datasets, pil_images_to_tensor

    train = load_dataset_dict(str(make_image_dataset(tmp_path / "set", num_rows=40, sizes=sizes)))["train"]
    labels = decode_labels(train, "label")
    decode = functools.partial(pil_images_to_tensor, num_channels=1, size=28)
    splits = {"train": (train, labels)}
    [in_memory] = image_datasets(splits, "image", decode, 0.13, 0.31, (1, 28, 28), memory_budget=None)
    [per_batch] = image_datasets(splits, "image", decode, 0.13, 0.31, (1, 28, 28), memory_budget=0)
    assert isinstance(in_memory, ImageTensorDataset) and isinstance(per_batch, ImageBatchDataset)
    assert torch.equal(in_memory.images, decode_images(train, "image", num_channels=1, size=28))
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0)).tolist()
    for expected, actual in zip(
        batch_dataloader(in_memory, 16, shuffle=False, seed=0, num_workers=0),
        batch_dataloader(per_batch, 16, shuffle=False, seed=0, num_workers=1),
        strict=True,
    ):
        assert torch.equal(expected["pixel_values"], actual["pixel_values"])
        assert torch.equal(expected["labels"], actual["labels"])
    assert torch.equal(in_memory.pixels(order), per_batch.pixels(order))


def test_the_memory_budget_reads_the_containers_limit_not_the_hosts(tmp_path):
    from hfnets.training.data import images_fit, memory_limit

    host = memory_limit(proc_cgroup=tmp_path / "none", cgroup_root=tmp_path)
    assert host > 2**28  # no cgroup file: the machine's memory
    v2 = tmp_path / "v2"
    (v2 / "app" / "job").mkdir(parents=True)
    (v2 / "app" / "memory.max").write_text("1610612736\n")  # 1.5 GB on the group above
    (v2 / "app" / "job" / "memory.max").write_text("max\n")
    (tmp_path / "v2.cgroup").write_text("0::/app/job\n")
    assert memory_limit(proc_cgroup=tmp_path / "v2.cgroup", cgroup_root=v2) == 1610612736
    v1 = tmp_path / "v1"
    (v1 / "memory" / "docker").mkdir(parents=True)
    (v1 / "memory" / "docker" / "memory.limit_in_bytes").write_text("536870912\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "v1.cgroup").write_text("5:cpu,cpuacct:/docker\n4:memory:/docker\n")
    assert memory_limit(proc_cgroup=tmp_path / "v1.cgroup", cgroup_root=v1) == 536870912
    # 10,000 RGB 64x64 images take 123 MB decoded, twice that while stacked, with a 491 MB float copy
    assert images_fit(10_000, (3, 64, 64), memory_budget=2**30)
    assert not images_fit(10_000, (3, 64, 64), memory_budget=2**29)


@pytest.mark.parametrize(
    "text, size", [("auto", None), ("4GB", 4 * 2**30), ("512mb", 512 * 2**20), ("1.5", 1.5 * 2**30), ("0", 0)]
)
def test_memory_budget_flag_takes_sizes(text, size):
    from hfnets.training.flags import memory_size

    assert memory_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1GB", "nan"])
def test_memory_budget_flag_refuses_what_is_not_a_size(text):
    import argparse

    from hfnets.training.flags import memory_size

    with pytest.raises(argparse.ArgumentTypeError, match="memory budget|not a size"):
        memory_size(text)


def test_a_stream_is_served_in_order_each_process_its_rows_of_each_global_batch(tmp_path):
    """StreamedImageBatches: batches of the rows in their order; with 2 processes each takes its half of every global
    batch, so the two together read what one process at twice the batch does; the position resumes exactly."""
    import functools
    from types import SimpleNamespace

    from hfnets.training.data import StreamedImageBatches, StreamedImages, pil_images_to_tensor

    train = load_dataset_dict(str(make_image_dataset(tmp_path / "set", num_rows=40, num_classes=10)))["train"]
    labels = decode_labels(train, "label").tolist()
    decode = functools.partial(pil_images_to_tensor, num_channels=1, size=28)

    def batches(batch_size, rank=0, processes=1, max_batches=10):
        process = SimpleNamespace(process_index=rank, num_processes=processes, device=torch.device("cpu"))
        images = StreamedImages(train.to_iterable_dataset(), "image", "label", decode, 0.5, 0.5)
        return StreamedImageBatches(images, batch_size, process, max_batches)

    one = [batch["labels"].tolist() for batch in batches(8)]
    assert sum(one, []) == labels  # in order; 5 batches of 8, then the stream ends
    ranks = [[batch["labels"].tolist() for batch in batches(4, rank, 2)] for rank in (0, 1)]
    assert [first + second for first, second in zip(*ranks, strict=True)] == one
    stream = batches(8, max_batches=2)
    served = list(stream)
    state = stream.state_dict()
    resumed = batches(8)
    resumed.load_state_dict(state)
    assert [batch["labels"].tolist() for batch in resumed] == one[2:]
    torch.testing.assert_close(served[0]["pixel_values"], (decode(train[:8]["image"]).float() / 255 - 0.5) / 0.5)
