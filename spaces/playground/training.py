"""The Playground's network and data, and its training loop: what every visitor shares (the network's code and image
processor, the trained model the page starts with, the digits decoded once), and one run of training, step by step."""

import contextlib
import io
import math
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

from ..settings import DEFAULT_DATASET

# What a learner may ask for: a few hidden layers of at most MAX_WIDTH units, a few epochs.
MAX_HIDDEN_LAYERS = 3
MAX_WIDTH = 512
MAX_EPOCHS = 10
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
ACTIVATIONS = {"ReLU": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "none (linear)": "linear"}
OPTIMIZERS = ["SGD", "Adam"]
COMPARE_SETTINGS = {"hidden_sizes": [128], "learning_rate": 1e-3, "batch_size": 64, "optimizer": "Adam", "seed": 0}
SPEEDS = {"one step at a time": 1, "10 steps at a time": 10, "as fast as it goes": None}  # steps between redraws
FRAME_SECONDS = 0.7  # at full speed, how long the page trains between redraws
SLOW_FRAME_SECONDS = 0.25  # a step at a time: the pause between steps, so that each one can be seen
POINTS_PER_EPOCH = 25  # at full speed, the curves gain a point about this often
SAMPLE = Path(__file__).parent / "digits-sample.npz"  # digits that ship with the Playground, for use offline


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
        self._data, self.source = None, dataset
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

    def data(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The train and test splits as normalized (N, 784) float tensors and their labels, decoded once. Where the
        dataset is the default Hub one and cannot be reached (offline), the digits that ship with the Playground."""
        with self._data_lock:
            if self._data is None:
                try:
                    arrays = load_digits(self.dataset)
                except (OSError, RuntimeError, ValueError, ConnectionError) as error:
                    if self.dataset != DEFAULT_DATASET or not SAMPLE.is_file():
                        raise
                    arrays = shipped_sample()
                    train, test = (len(arrays[name][1]) for name in ("train", "test"))
                    self.source = (
                        f"the {train:,} training and {test:,} test digits of MNIST that ship with the Playground "
                        f"({self.dataset} could not be loaded: {type(error).__name__})"
                    )
                mean, std = float(np.mean(self.processor.image_mean)), float(np.mean(self.processor.image_std))
                self._data = {}
                for name, (images, labels) in arrays.items():
                    flat = torch.from_numpy(images).reshape(len(images), -1).float() / 255
                    self._data[name] = ((flat - mean) / std, torch.from_numpy(labels.astype(np.int64)))
            return self._data

    def pixels(self, image) -> torch.Tensor:
        """A drawing as the network sees it: the image processor crops, scales and centers it as MNIST digits are."""
        return self.processor(image, return_tensors="pt")["pixel_values"].reshape(1, -1)


def load_digits(dataset: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The splits of `dataset` (a Hub id or a local copy) as (N, 28, 28) uint8 images and their labels, from the
    stored PNG bytes straight to arrays (several times faster than decoding through `datasets`)."""
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    splits = load_dataset(dataset)
    arrays = {}
    for name in ("train", "test"):
        if name not in splits or not {"image", "label"} <= set(splits[name].column_names):
            raise RuntimeError(
                f"{dataset} needs `train` and `test` splits with `image` and `label` columns, as ylecun/mnist has."
            )
        split = splits[name].cast_column("image", ImageFeature(decode=False))
        images = np.stack([decode_digit(stored) for stored in split["image"]])
        arrays[name] = (images, np.asarray(split["label"]))
    return arrays


def shipped_sample() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The digits that ship with the Playground (SAMPLE, written by `python -m spaces.playground.sample`)."""
    with np.load(SAMPLE) as sample:
        return {name: (sample[f"{name}_images"], sample[f"{name}_labels"]) for name in ("train", "test")}


def decode_digit(stored: dict) -> np.ndarray:
    """A stored image ({"bytes": ..., "path": ...}) as a 28x28 grayscale uint8 array."""
    source = io.BytesIO(stored["bytes"]) if stored.get("bytes") else stored["path"]
    with Image.open(source) as image:
        gray = image.convert("L")
        if gray.size != (28, 28):
            gray = gray.resize((28, 28), Image.BILINEAR)
        return np.asarray(gray)


def evaluate(model, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """The loss (cross-entropy) and the accuracy of `model` on a labelled set."""
    with torch.no_grad():
        logits = model(images).logits
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return float(loss), float((logits.argmax(-1) == labels).float().mean())


class Run:
    """One training run that can be stepped, played and paused: the network, its optimizer, where it is in the
    shuffled training data, and the curves so far. Every point of the curves is measured on the same evaluation set
    (the whole test split), so the figure a run ends on is its curve's last point.

    `settings`: learning_rate, batch_size, optimizer ("SGD" or "Adam"), epochs (the run's budget) and l2 (the weight of
    an L2 penalty on the weights, added to the loss). They may change between steps (`adjust`)."""

    def __init__(self, model, data: dict, settings: dict, seed: int = 0):
        self.model = model.train()
        self.train_images, self.train_labels = data["train"]
        self.eval_images, self.eval_labels = data["test"]
        self.shuffle = torch.Generator().manual_seed(seed)
        self.order, self.position = torch.randperm(len(self.train_labels), generator=self.shuffle), 0
        self.steps, self.seen, self.seconds, self.losses, self.history = 0, 0, 0.0, [], []
        self.settings, self.optimizer = {}, None
        self.pause = threading.Event()  # set: a playing run stops after its current frame
        self.playing = False  # Play is under way (it draws the paused state itself when it stops)
        self.adjust(settings)
        self.record()

    def adjust(self, settings: dict) -> None:
        """New learning rate, batch size, optimizer, budget or L2 weight, from the next step on."""
        if self.optimizer is None or settings["optimizer"] != self.settings["optimizer"]:
            optimizer_class = torch.optim.Adam if settings["optimizer"] == "Adam" else torch.optim.SGD
            self.optimizer = optimizer_class(self.model.parameters(), lr=settings["learning_rate"])
        for group in self.optimizer.param_groups:
            group["lr"] = settings["learning_rate"]
        self.settings = dict(settings)

    @property
    def epoch(self) -> float:
        return self.seen / len(self.train_labels)

    @property
    def done(self) -> bool:
        return self.seen >= self.settings["epochs"] * len(self.train_labels)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_labels) / self.settings["batch_size"])

    @property
    def total_steps(self) -> int:
        """The steps taken and those left to the budget (each epoch ends on a batch of what remains of it)."""
        n, batch = len(self.train_labels), self.settings["batch_size"]
        completed = (self.seen - self.position) // n  # whole epochs before the one under way
        left_in_this = math.ceil((n - self.position) / batch)
        return self.steps + left_in_this + max(0, self.settings["epochs"] - completed - 1) * math.ceil(n / batch)

    def penalty(self) -> torch.Tensor:
        """The L2 penalty: l2 x the sum of the squared weights (biases are left free)."""
        weights = [p for name, p in self.model.named_parameters() if name.endswith("weight")]
        return self.settings.get("l2", 0.0) * sum((w**2).sum() for w in weights)

    def step(self) -> None:
        """One step of gradient descent on the next batch (a new shuffle at each epoch's start)."""
        if self.position >= len(self.order):
            self.order, self.position = torch.randperm(len(self.train_labels), generator=self.shuffle), 0
        batch = self.order[self.position : self.position + self.settings["batch_size"]]
        started = time.perf_counter()
        loss = self.model(self.train_images[batch], labels=self.train_labels[batch]).loss
        (loss + self.penalty() if self.settings.get("l2") else loss).backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.seconds += time.perf_counter() - started
        self.position += len(batch)
        self.seen += len(batch)
        self.steps += 1
        self.losses.append(loss.item())

    def record(self) -> dict:
        """A point of the curves: the training loss (the mean over the steps since the last point), and the loss and
        accuracy on the evaluation set now."""
        self.model.eval()
        test_loss, test_accuracy = evaluate(self.model, self.eval_images, self.eval_labels)
        self.model.train()
        point = {
            "step": self.steps,
            "epoch": self.epoch,
            "loss": float(np.mean(self.losses)) if self.losses else None,
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
        }
        self.losses = []
        self.history.append(point)
        return point

    def advance(self, steps: int | None, seconds: float = FRAME_SECONDS) -> None:
        """Train on: `steps` steps (a point each), or with None as many as fit in `seconds` (a point about
        POINTS_PER_EPOCH times an epoch); never past the budget."""
        every = 1 if steps is not None else max(1, self.steps_per_epoch // POINTS_PER_EPOCH)
        deadline = time.perf_counter() + seconds
        taken = 0
        while not self.done and (taken < steps if steps is not None else time.perf_counter() < deadline):
            self.step()
            taken += 1
            if self.steps % every == 0 or self.done:
                self.record()
        if self.losses:
            self.record()
        self.model.eval()

    def play(self, steps: int | None):
        """Train on frame by frame (`advance(steps)` each), yielding after each frame that leaves the run going for
        the page to draw it as playing, until the budget is spent or `pause` is set (the caller draws that last state
        once, as done or paused); a step at a time waits SLOW_FRAME_SECONDS between frames."""
        self.pause.clear()
        self.playing = True
        try:
            while not self.done and not self.pause.is_set():
                self.advance(steps)
                if self.done or self.pause.is_set():
                    return
                yield
                if steps == 1:
                    time.sleep(SLOW_FRAME_SECONDS)
        finally:
            self.playing = False
