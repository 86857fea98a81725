"""Write the digits that ship with the Playground, so that it trains offline: the first 6,000 training and 1,000 test
digits of MNIST (in the Hub layout of `ylecun/mnist`), as 28x28 uint8 arrays in one compressed file (about 1.2 MB).

    python -m spaces.playground.sample path/to/mnist
"""

import sys

import numpy as np

from .training import SAMPLE, load_digits

TRAIN_DIGITS, TEST_DIGITS = 6000, 1000


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    arrays = load_digits(sys.argv[1])
    counts = {"train": TRAIN_DIGITS, "test": TEST_DIGITS}
    parts = {}
    for name, (images, labels) in arrays.items():
        parts[f"{name}_images"] = images[: counts[name]].astype(np.uint8)
        parts[f"{name}_labels"] = labels[: counts[name]].astype(np.uint8)
    np.savez_compressed(SAMPLE, **parts)
    print(f"{SAMPLE}: {SAMPLE.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
