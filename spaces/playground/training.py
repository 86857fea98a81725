"""The Playground's network and data, and its training loop: what every visitor shares (the network's code and image
processor, the trained model the page starts with, the digits decoded once), and one run of training, step by step."""

import contextlib
import io
import queue
import threading
import time

import numpy as np
import torch
from PIL import Image
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

# What a learner may ask for: a few hidden layers of at most MAX_WIDTH units, a few epochs.
MAX_HIDDEN_LAYERS = 3
MAX_WIDTH = 512
MAX_EPOCHS = 10
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
ACTIVATIONS = {"ReLU": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "none (linear)": "linear"}
OPTIMIZERS = ["SGD", "Adam"]
COMPARE_SETTINGS = {"hidden_sizes": [128], "learning_rate": 1e-3, "batch_size": 64, "optimizer": "Adam", "seed": 0}
UPDATE_SECONDS = 1.0  # how often a training run redraws its curves and weights
CURVE_TEST_DIGITS = 2000  # the curves' test accuracy is measured on this many test digits (the final one on all)


class Playground:
    """What every visitor shares: the network's code and image processor (from `model_id`, an hfnets MNIST MLP), the
    trained model the page starts with, and the digits of `dataset` (a Hub id or a local copy) decoded once into
    tensors."""

    def __init__(self, model_id: str, dataset: str):
        self.model_id, self.dataset = model_id, dataset
        self.processor = AutoImageProcessor.from_pretrained(self.model_id, trust_remote_code=True)
        self.base_config = AutoConfig.from_pretrained(self.model_id, trust_remote_code=True)
        self.start_model = AutoModelForImageClassification.from_pretrained(self.model_id, trust_remote_code=True)
        self.start_model.eval()
        self._data = None
        self._data_lock = threading.Lock()
        # Decode the digits in the background now, so that they are ready by the time a visitor presses Train.
        threading.Thread(target=self._prefetch, daemon=True).start()

    def _prefetch(self) -> None:
        with contextlib.suppress(Exception):  # a dataset that cannot load is reported to the visitor who trains
            self.data()

    def new_model(self, hidden_sizes: list[int], activation: str, seed: int):
        """A new, untrained network of the shipped model's class, initialized from `seed`."""
        values = {**self.base_config.to_dict(), "hidden_sizes": hidden_sizes, "hidden_act": activation, "dropout": 0.0}
        config = type(self.base_config)(**values)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = AutoModelForImageClassification.from_config(config, trust_remote_code=True)
        return model.eval()

    def data(self) -> dict[str, torch.Tensor]:
        """The dataset's train and test splits as normalized (N, 784) float tensors and their labels, decoded once
        (from the stored PNG bytes straight to arrays: several times faster than decoding through `datasets`)."""
        with self._data_lock:
            if self._data is None:
                from datasets import Image as ImageFeature
                from datasets import load_dataset

                splits = load_dataset(self.dataset)
                mean, std = float(np.mean(self.processor.image_mean)), float(np.mean(self.processor.image_std))
                data = {}
                for name in ("train", "test"):
                    if name not in splits or not {"image", "label"} <= set(splits[name].column_names):
                        raise RuntimeError(
                            f"{self.dataset} needs `train` and `test` splits with `image` and `label` columns, as "
                            "ylecun/mnist has."
                        )
                    split = splits[name].cast_column("image", ImageFeature(decode=False))
                    arrays = [decode_digit(stored) for stored in split["image"]]
                    images = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), -1).float() / 255
                    data[name] = ((images - mean) / std, torch.tensor(split["label"], dtype=torch.long))
                self._data = data
            return self._data

    def pixels(self, image) -> torch.Tensor:
        """A drawing as the network sees it: the image processor crops, scales and centers it as MNIST digits are."""
        return self.processor(image, return_tensors="pt")["pixel_values"].reshape(1, -1)


def decode_digit(stored: dict) -> np.ndarray:
    """A stored image ({"bytes": ..., "path": ...}) as a 28x28 grayscale uint8 array."""
    source = io.BytesIO(stored["bytes"]) if stored.get("bytes") else stored["path"]
    with Image.open(source) as image:
        gray = image.convert("L")
        if gray.size != (28, 28):
            gray = gray.resize((28, 28), Image.BILINEAR)
        return np.asarray(gray)


def accuracy(model, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).logits.argmax(-1) == labels).float().mean())


def train(model, data, learning_rate: float, batch_size: int, optimizer_name: str, epochs: int, seed: int, stop=None):
    """Train `model` in place, yielding a progress record about every UPDATE_SECONDS and one at the end of each
    epoch: {epoch (fractional), step, loss (mean since the last record), test_accuracy (on the first
    CURVE_TEST_DIGITS test digits), seconds, epoch_seconds}. Setting the `stop` event ends it after the step."""
    train_images, train_labels = data["train"]
    test_images, test_labels = (part[:CURVE_TEST_DIGITS] for part in data["test"])
    optimizer_class = torch.optim.Adam if optimizer_name == "Adam" else torch.optim.SGD
    optimizer = optimizer_class(model.parameters(), lr=learning_rate)
    shuffle = torch.Generator().manual_seed(seed)
    step, started, last_report, losses = 0, time.perf_counter(), time.perf_counter(), []
    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        order = torch.randperm(len(train_labels), generator=shuffle)
        model.train()
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            loss = model(train_images[batch], labels=train_labels[batch]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.detach())
            step += 1
            if stop is not None and stop.is_set():
                model.eval()
                return
            end_of_epoch = first + batch_size >= len(order)
            if end_of_epoch or time.perf_counter() - last_report > UPDATE_SECONDS:
                model.eval()
                record = {
                    "epoch": round(epoch + (first + len(batch)) / len(order), 3),
                    "step": step,
                    "loss": float(torch.stack(losses).mean()),
                    "test_accuracy": accuracy(model, test_images, test_labels),
                    "seconds": round(time.perf_counter() - started, 2),
                    "epoch_seconds": round(time.perf_counter() - epoch_start, 2) if end_of_epoch else None,
                }
                model.train()
                losses, last_report = [], time.perf_counter()
                yield record
    model.eval()


def in_background(records, stop: threading.Event):
    """Run a training generator in a thread of its own, so that drawing the page never pauses the training; yield,
    each time the page is ready for more, the list of records made since (at least one). Setting `stop` (as closing
    this generator does, when a visitor presses Stop) ends the training after its current step."""
    pending = queue.Queue()

    def work():
        try:
            for record in records:
                pending.put(record)
        except BaseException as error:  # handed to the page's thread, which reports it
            pending.put(error)
        pending.put(None)

    threading.Thread(target=work, daemon=True).start()
    try:
        done = False
        while not done:
            batch = [pending.get()]
            while not pending.empty():
                batch.append(pending.get_nowait())
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
            done = batch[-1] is None
            batch = [item for item in batch if item is not None]
            if batch:
                yield batch
    finally:
        stop.set()
