"""What the course's notebooks share: the MNIST digits they read.

The digits are the first 6,000 training and 1,000 test digits of MNIST that ship with hfnets' Playground
(`spaces/playground/digits-sample.npz`), so that every notebook runs offline with an empty cache; where that file is
missing, the same digits come from the Hub's `ylecun/mnist`.
"""

from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parents[1] / "spaces" / "playground" / "digits-sample.npz"


def mnist_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's digits as (N, 28, 28) uint8 images and their labels: `train_images, train_labels, test_images,
    test_labels` (6,000 and 1,000). Says where they came from."""
    if SAMPLE.is_file():
        with np.load(SAMPLE) as stored:
            arrays = tuple(stored[f"{split}_{kind}"] for split in ("train", "test") for kind in ("images", "labels"))
        source = "spaces/playground/digits-sample.npz, shipped with hfnets"
    else:
        from datasets import load_dataset

        arrays = ()
        for split, count in (("train", 6000), ("test", 1000)):
            rows = load_dataset("ylecun/mnist", split=f"{split}[:{count}]")
            arrays += (np.stack([np.asarray(image) for image in rows["image"]]), np.asarray(rows["label"]))
        source = "the Hub's ylecun/mnist"
    print(f"{len(arrays[1]):,} training and {len(arrays[3]):,} test digits of MNIST from {source}")
    return arrays
