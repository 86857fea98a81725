"""Data parallelism, checked on CPU with two processes (gloo) launched through the shipped multi-GPU config:
every script runs; the ranks end with identical weights; two processes at batch B reach the weights of one process
at batch 2B; gathered evaluation metrics count every example once."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

from hfnets import CharGptTokenizer
from tests.conftest import REPO_ROOT, SONNET, free_port, run_in_process, run_script
from tests.helpers.datasets import make_image_dataset

MULTI_GPU_CONFIG = REPO_ROOT / "scripts" / "accelerate" / "multi_gpu.yaml"
BATCH = 8  # per process with two processes; one process takes 2 x BATCH


def launch(script: str, args: list[str], num_processes: int) -> dict:
    """Run a training script under `accelerate launch` on CPU; return its all_results.json."""
    command = [
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(MULTI_GPU_CONFIG),
        "--num_processes",
        str(num_processes),
        "--main_process_port",
        str(free_port()),
    ]
    if num_processes == 1:  # a single process is a plain run, with no process group: run here, on the CPU
        run_in_process(f"scripts/{script}", args)
    else:
        result = run_script([*command, f"scripts/{script}", *args], env={"ACCELERATE_USE_CPU": "true"}, timeout=300)
        assert result.returncode == 0, result.stderr[-4000:]
    output_dir = Path(args[args.index("--output_dir") + 1])
    return json.loads((output_dir / "all_results.json").read_text())


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("parallel-data")
    # 64 training images: 4 global batches of 16; 40 test images: the last evaluation batch is padded across ranks
    digits = make_image_dataset(root / "digits", num_rows=64, num_classes=10)
    make_image_dataset(root / "test-40", num_rows=40, num_classes=10)
    (root / "digits" / "data" / "test-00000-of-00001.parquet").write_bytes(
        (root / "test-40" / "data" / "test-00000-of-00001.parquet").read_bytes()
    )
    (root / "train.txt").write_text(SONNET * 30)
    (root / "validation.txt").write_text(SONNET * 3)
    # the same text as a dataset of rows, for --streaming, and a tokenizer (a stream gives no pass to build one)
    (root / "rows" / "data").mkdir(parents=True)
    for split, copies in (("train", 30), ("validation", 10)):
        rows = Dataset.from_dict({"text": (SONNET * copies).splitlines()})
        rows.to_parquet(root / "rows" / "data" / f"{split}-00000-of-00001.parquet")
    CharGptTokenizer.from_text(SONNET).save_pretrained(root / "tokenizer")
    return {
        "digits": digits,
        "train": root / "train.txt",
        "validation": root / "validation.txt",
        "rows": root / "rows",
        "tokenizer": root / "tokenizer",
    }


def family_args(family: str, data: dict[str, Path], output_dir: Path, batch: int) -> tuple[str, list[str], str]:
    """(script, flags, weights file) for a short fp32 run of `family` at `batch` per process."""
    common = ["--output_dir", str(output_dir), "--report_to", "none", "--mixed_precision", "no", "--seed", "7"]
    batch_flag = ["--per_device_train_batch_size", str(batch)]
    eval_batch = ["--per_device_eval_batch_size", "16"]  # the GAN and DDPM judge generated samples instead
    images = ["--dataset_name", str(data["digits"]), "--card_dataset_id", "ylecun/mnist"]
    if family == "mlp":
        return (
            "train_mlp.py",
            [*images, *common, *batch_flag, *eval_batch, "--num_train_epochs", "2"],
            "model.safetensors",
        )
    if family == "gan":
        small = ["--base_channels", "8", "--latent_dim", "8", "--num_train_epochs", "2"]
        return "train_gan.py", [*images, *common, *batch_flag, *small], "generator/diffusion_pytorch_model.safetensors"
    if family == "ddpm":
        small = ["--block_out_channels", "16,32", "--layers_per_block", "1", "--num_inference_steps", "2"]
        flags = [*images, *common, *batch_flag, *small, "--num_train_epochs", "2"]
        return "train_ddpm.py", flags, "unet/diffusion_pytorch_model.safetensors"
    text = ["--train_file", str(data["train"]), "--validation_file", str(data["validation"])]
    streamed = ["--dataset_name", str(data["rows"]), "--streaming", "--tokenizer_name", str(data["tokenizer"])]
    if family == "rnn-streamed":  # every rank reads the stream and keeps its own streams of it
        family, text = "rnn", [*streamed, "--max_eval_windows", "2"]
    if family == "rnn":
        tiny = ["--config_overrides", "hidden_size=16,num_layers=2,dropout=0.0", "--sample_length", "8"]
        flags = [
            *text,
            *common,
            *batch_flag,
            *tiny,
            "--block_size",
            "16",
            "--eval_streams",
            "4",
            "--max_train_steps",
            "6",
        ]
        return "train_rnn.py", [*flags, "--card_dataset_id", "karpathy/tiny_shakespeare"], "model.safetensors"
    tiny = ["--config_overrides", "n_layer=1,n_head=2,n_embd=16,n_positions=32,dropout=0.0", "--sample_length", "8"]
    if family == "gpt-streamed":  # every rank reads the stream and keeps its rows of each global batch
        text = [*streamed, "--max_eval_windows", "8"]
    flags = [
        *text,
        *common,
        *batch_flag,
        *eval_batch,
        *tiny,
        "--max_train_steps",
        "6",
        "--card_dataset_id",
        "karpathy/tiny_shakespeare",
    ]
    return "train_gpt.py", flags, "model.safetensors"


def assert_same_weights(first: Path, second: Path) -> None:
    expected, actual = load_file(first), load_file(second)
    assert expected.keys() == actual.keys()
    for name in expected:
        # the same sums, added up in another order across two ranks: equal to float32 rounding
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-5, msg=name)


# By default the three kinds of loop (one network; two networks; a state carried between steps), the rest with -m slow.
@pytest.mark.parametrize(
    "family",
    [
        "mlp",
        "mlp-decoded-per-batch",  # two ranks decoding their batches in DataLoader workers, one holding every image
        "mlp-streamed",
        "rnn",
        "gan",
        "gpt-streamed",
        "rnn-streamed",
        pytest.param("gpt", marks=pytest.mark.slow),
        pytest.param("ddpm", marks=pytest.mark.slow),
    ],
)
def test_two_processes_at_batch_b_train_as_one_at_batch_2b(family, data, tmp_path):
    per_batch = {
        "mlp-decoded-per-batch": ["--memory_budget", "0"],
        "mlp-streamed": ["--streaming", "--max_train_steps", "4"],  # each rank reads the stream, keeps its rows
    }.get(family, [])
    family = family.removesuffix("-decoded-per-batch")
    streamed_images = family == "mlp-streamed"
    family = "mlp" if streamed_images else family
    script, two_flags, weights = family_args(family, data, tmp_path / "two", BATCH)
    two = launch(script, [*two_flags, *per_batch], num_processes=2)
    assert two["world_size"] == 2
    assert two["replicas_in_sync"] is True  # DDP kept the ranks' weights bit-identical

    _, one_flags, _ = family_args(family, data, tmp_path / "one", 2 * BATCH)
    one = launch(script, [*one_flags, *(per_batch if streamed_images else [])], num_processes=1)
    assert one["world_size"] == 1
    assert two["step"] == one["step"]  # the data is split between the ranks, not repeated

    if family == "gan":
        # The generator's BatchNorm normalizes each rank's batch of B by its own statistics, so only the
        # noise and labels match 2B exactly (see README); the run's shape is checked above.
        return
    assert_same_weights(tmp_path / "one" / weights, tmp_path / "two" / weights)
    if family == "mlp":
        # 40 test images in batches of 16 per rank: the padding of the last batch is dropped by gather_for_metrics
        assert one["eval_samples"] == two["eval_samples"] == 40
        assert two["eval_loss"] == pytest.approx(one["eval_loss"], rel=1e-4)
        assert two["eval_accuracy"] == one["eval_accuracy"]
    if family in ("gpt", "gpt-streamed", "rnn", "rnn-streamed"):
        assert two["eval_tokens"] == one["eval_tokens"]
        assert two["eval_loss"] == pytest.approx(one["eval_loss"], rel=1e-4)
        assert two["train_tokens"] == one["train_tokens"]


def test_two_process_rnn_resumes_with_every_rank_s_carried_state(data, tmp_path):
    """The recurrent state each rank carries for its own streams is gathered into the checkpoint and handed back to
    its rank on resume: resumed from a mid-run checkpoint, the 2-process run ends with the uninterrupted weights."""
    script, flags, weights = family_args("rnn", data, tmp_path / "run", BATCH)
    launch(script, [*flags, "--checkpointing_steps", "3"], num_processes=2)
    reference = load_file(tmp_path / "run" / weights)
    states = torch.load(tmp_path / "run" / "checkpoint-3" / "custom_checkpoint_0.pkl", weights_only=False)["states"]
    assert states[0][0].shape == (2 * BATCH, 1, 16)  # both ranks' streams

    for leftover in ("checkpoint-6", weights):
        path = tmp_path / "run" / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    launch(script, [*flags, "--checkpointing_steps", "3", "--resume_from_checkpoint", "latest"], num_processes=2)
    resumed = load_file(tmp_path / "run" / weights)
    for name in reference:
        assert torch.equal(reference[name], resumed[name]), name
