"""The Playground's live training, as a visitor gets it: the app (spaces/playground) served locally and driven through
`gradio_client`. One epoch of the 784-128-10 ReLU network on MNIST (Adam, batch 64) played at full speed in the app
(the visitor's wall-clock time: its curves measured on all 10,000 test digits about 50 times an epoch, its pictures
redrawn), against the same epoch in a plain PyTorch loop over the same tensors in this process; one Step answered
(a batch, the evaluation, the curves and weight pictures redrawn), against the app's lightest request (Pause: a
status line); a forward-pass request answered while a training runs (other visitors stay served); and the
comparison of activation functions after `--compare_epochs`.

The bars: an epoch in the app at most 3x the plain loop (a few seconds on 2 CPU cores); one Step answered in under
0.3 s; ReLU and tanh above 97% and the network without an activation around 92% (a linear classifier) after a few
epochs.

    python benchmarks/bench_playground.py --dataset_name ylecun/mnist --json bench_playground.json
"""

import argparse
import importlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch
from common import add_common_args, pick_device, row, write_rows
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MAX_EPOCH_RATIO = 3.0
MAX_STEP_SECONDS = 0.3
STEPS_TIMED = 30
ACCURACY_BARS = {"ReLU": 0.97, "tanh": 0.97}


def load_training():
    """The Playground's training module (`spaces/playground/training.py`), imported from the repository root."""
    sys.path.insert(0, str(ROOT))
    return importlib.import_module("spaces.playground.training")


def plain_epoch(playground, seed: int = 0) -> float:
    """Seconds of one epoch of the same network and recipe in a bare loop: no app, no progress records."""
    model = playground.new_model([128], "relu", seed)
    images, labels = playground.data()["train"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    model.train()
    start = time.perf_counter()
    for first in range(0, len(order), 64):
        batch = order[first : first + 64]
        loss = torch.nn.functional.cross_entropy(model(images[batch]).logits, labels[batch])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="The MLP whose code the app uses (default: the shipped one).")
    parser.add_argument("--dataset_name", default="ylecun/mnist", help="MNIST: Hub id or local folder.")
    parser.add_argument("--epochs", type=int, default=2, help="Epochs of the live training run.")
    parser.add_argument("--compare_epochs", type=int, default=5, help="Epochs of each activation in the comparison.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if device.type != "cpu":
        print("The Playground trains on the CPU of the app's machine; measuring it there.")
        device = torch.device("cpu")
    from gradio_client import Client, handle_file

    training = load_training()
    playground = training.Playground(args.model or str(ROOT / "pretrained" / "mnist-mlp"), args.dataset_name)
    start = time.perf_counter()
    playground.data()
    load_seconds = time.perf_counter() - start
    reference = min(plain_epoch(playground) for _ in range(1 if args.quick else 2))  # before the app starts
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The app in a process of its own, as on a Space: the clients' work here does not share its interpreter.
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    env.update(DATASET=args.dataset_name, **({"MODEL_ID": args.model} if args.model else {}))
    server = subprocess.Popen(
        [sys.executable, "-m", "spaces.playground.app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            Client(url, verbose=False)
            break
        except Exception:  # not serving yet
            time.sleep(0.5)
    rows = []
    try:
        controls = [1, 128, 64, 32, "ReLU", 1e-3, 64, "Adam"]

        def train_once(epochs: int) -> tuple[float, float, int]:
            """(wall seconds per epoch of a full-speed Play from a new network, final test accuracy, updates)"""
            client = Client(url, verbose=False)
            client.predict(*controls, epochs, api_name="/new_network")
            started = time.perf_counter()
            updates = list(client.submit(*controls, epochs, "as fast as it goes", api_name="/play"))
            wall = time.perf_counter() - started
            status = updates[-1][-1]
            accuracy = float(re.search(r"accuracy \*\*([\d.]+)%\*\*", status).group(1)) / 100
            return wall / epochs, accuracy, len(updates)

        epoch_seconds, accuracy, updates = train_once(args.epochs)
        rows.append(
            row(
                "playground: one epoch of 784-128-10 played in the app (gradio_client, wall clock)",
                epoch_seconds,
                "s",
                device,
                peer=f"the same epoch in a plain PyTorch loop ({reference:.2f} s)",
                ratio=epoch_seconds / reference,
                bar=MAX_EPOCH_RATIO,
                bar_kind="max",
                updates=updates,
                data_load_seconds=round(load_seconds, 1),
                test_accuracy=accuracy,
                epochs=args.epochs,
            )
        )

        # One Step at a time, as a learner presses it: the answer, then its three pictures fetched at once, as a
        # browser fetches them
        client = Client(url, verbose=False, download_files=False)
        client.predict(*controls, 1, api_name="/new_network")
        steps, pauses = [], []
        with httpx.Client() as http, ThreadPoolExecutor(3) as fetchers:
            for _ in range(STEPS_TIMED):
                begin = time.perf_counter()
                answer = client.predict(*controls, 1, api_name="/step")
                pictures = [part["url"] for part in answer if isinstance(part, dict) and "url" in part]
                assert len(pictures) == 3 and all(r.status_code == 200 for r in fetchers.map(http.get, pictures))
                steps.append(time.perf_counter() - begin)
                begin = time.perf_counter()
                client.predict(api_name="/pause")
                pauses.append(time.perf_counter() - begin)
        step_seconds, pause_seconds = float(np.median(steps)), float(np.median(pauses))
        rows.append(
            row(
                "playground: one Step answered, its 3 pictures fetched at once (median)",
                step_seconds,
                "s",
                device,
                peer=f"the app's lightest request, Pause ({pause_seconds:.3f} s)",
                ratio=step_seconds / pause_seconds,
                bar=MAX_STEP_SECONDS,
                bar_kind="max",
                bar_on="value",
                slowest=round(max(steps), 3),
                steps=STEPS_TIMED,
            )
        )

        # A second visitor's forward passes while the first visitor's network trains.
        canvas = np.zeros((320, 320, 4), dtype=np.uint8)
        canvas[60:260, 150:170] = (0, 0, 0, 255)
        drawing_path = Path(tempfile.mkdtemp()) / "one.png"
        Image.fromarray(canvas).save(drawing_path)
        drawing = {"background": None, "layers": [], "composite": handle_file(drawing_path)}
        latencies, training_done = [], threading.Event()

        def visitor():
            client = Client(url, verbose=False)
            while not training_done.is_set():
                begin = time.perf_counter()
                client.predict(drawing, api_name="/forward")
                latencies.append(time.perf_counter() - begin)
                time.sleep(0.5)

        other = threading.Thread(target=visitor)
        other.start()
        busy_epoch, _, _ = train_once(1)
        training_done.set()
        other.join()
        rows.append(
            row(
                "playground: another visitor's forward pass during training (median)",
                float(np.median(latencies)) if latencies else float("nan"),
                "s",
                device,
                requests=len(latencies),
                slowest=round(max(latencies), 3) if latencies else None,
                epoch_seconds_meanwhile=busy_epoch,
            )
        )

        curves, table = Client(url, verbose=False).predict(args.compare_epochs, api_name="/compare")
        for name, shown, seconds in table["data"]:
            value = float(shown.rstrip("%")) / 100
            rows.append(
                row(
                    f"playground: {name} after {args.compare_epochs} epochs (test accuracy)",
                    value,
                    "accuracy",
                    device,
                    bar=ACCURACY_BARS.get(name),
                    bar_on="value",
                    seconds=seconds,
                )
            )
    finally:
        server.terminate()
        server.wait()
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
