"""Training throughput of scripts/train_mlp.py against a plain PyTorch loop over in-memory tensors.

Both train the same 784-128-10 ReLU network with AdamW at the same batch size on the same MNIST training images,
in this one process, alternating so that both see the same machine state; the best of `--repeats` runs counts.
The script's figure is its own `train_samples_per_second` (the training loop: data loading, forward, backward,
optimizer and schedule steps, progress bar), which excludes start-up and evaluation.

On a GPU both run there (the script as `accelerate launch` would place it); `--device cpu` keeps both on the CPU.

    python benchmarks/bench_mlp.py --dataset_name ../shared/datasets/mnist --json bench_mlp.json
"""

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import torch
from accelerate.state import AcceleratorState
from common import add_common_args, pick_device, reset_peak_memory, row, synchronize, write_rows
from datasets import load_dataset
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
# The bar: the script keeps at least 80% of a plain loop's throughput.
BAR = 0.8
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def load_train_tensors(dataset_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    train = load_dataset(dataset_name, split="train")
    images = torch.from_numpy(train.select_columns(["image"]).with_format("numpy")[:]["image"])
    labels = train.select_columns(["label"]).with_format("torch")[:]["label"]
    return ((images.float() / 255 - MNIST_MEAN) / MNIST_STD).view(len(images), -1), labels


def plain_loop(images, labels, epochs: int, batch_size: int, learning_rate: float, seed: int) -> float:
    """The textbook loop: shuffle, slice, forward, backward, step, on the tensors' device. Returns samples/s."""
    torch.manual_seed(seed)
    device = images.device
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.05)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(images), device=device)
        for i in range(0, len(images), batch_size):
            index = order[i : i + batch_size]
            loss = nn.functional.cross_entropy(model(images[index]), labels[index])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    synchronize(device)
    return epochs * len(images) / (time.perf_counter() - start)


def load_script():
    spec = importlib.util.spec_from_file_location("train_mlp", REPO_ROOT / "scripts" / "train_mlp.py")
    train_mlp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_mlp)
    return train_mlp


def script_run(dataset_name: str, epochs: int, batch_size: int, learning_rate: float, seed: int) -> float:
    train_mlp = load_script()
    with tempfile.TemporaryDirectory() as output_dir:
        results = train_mlp.main(
            [
                "--dataset_name",
                dataset_name,
                "--output_dir",
                output_dir,
                "--num_train_epochs",
                str(epochs),
                "--per_device_train_batch_size",
                str(batch_size),
                "--learning_rate",
                str(learning_rate),
                "--seed",
                str(seed),
                "--report_to",
                "none",
                "--mixed_precision",
                "no",  # the plain loop's precision
            ]
        )
    AcceleratorState._reset_state(True)
    return results["train_samples_per_second"]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset_name", default="ylecun/mnist", help="Hub id or local folder of MNIST.")
    parser.add_argument("--epochs", type=int, default=3, help="Epochs per measured run.")
    parser.add_argument("--batch_size", type=int, default=None, help="Batch size of both (default: the script's).")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each; the best counts.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 1, 1
    device = pick_device(args.device)
    if device.type == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"  # the script's Accelerator stays on the CPU too
    defaults = load_script().parse_args(["--output_dir", "unused"])
    batch_size = args.batch_size or defaults.per_device_train_batch_size
    learning_rate = defaults.learning_rate

    images, labels = load_train_tensors(args.dataset_name)
    images, labels = images.to(device), labels.to(device)
    plain_loop(images[:4096], labels[:4096], 1, batch_size, learning_rate, 0)  # warm-up
    reset_peak_memory(device)
    plain, script = [], []
    for repeat in range(args.repeats):
        plain.append(plain_loop(images, labels, args.epochs, batch_size, learning_rate, repeat))
        script.append(script_run(args.dataset_name, args.epochs, batch_size, learning_rate, repeat))
    ratio = max(script) / max(plain)
    peer = "plain PyTorch loop over in-memory tensors"
    details = {"batch_size": batch_size, "epochs": args.epochs}
    rows = [
        row(
            "mlp_train_throughput",
            max(script),
            "samples/s",
            device,
            peer,
            ratio,
            BAR,
            peer_value=max(plain),
            **details,
        ),
        row("mlp_epoch_time", len(images) / max(script), "s/epoch", device, **details),
    ]
    print(f"{'':32}{'samples/s':>12}")
    print(f"{'plain PyTorch loop':32}{max(plain):12,.0f}")
    print(f"{'scripts/train_mlp.py':32}{max(script):12,.0f}   ({len(images) / max(script):.2f} s per epoch)")
    print(f"ratio {ratio:.3f} (bar >= {BAR}): {'holds' if rows[0]['holds'] else 'MISSED'}")
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
