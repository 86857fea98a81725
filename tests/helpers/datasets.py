"""Small image-classification datasets written in the Hub repository layout, for tests that need no real data."""

from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image


def make_image_dataset(
    folder: Path,
    num_rows: int = 24,
    size: int = 28,
    mode: str = "L",
    num_classes: int = 3,
    image_column: str = "image",
    label_column: str | None = "label",
    class_label: bool = True,
    sizes: list[int] | None = None,
    seed: int = 0,
) -> Path:
    """Write `folder/data/{train,test}-00000-of-00001.parquet` with random images; return `folder`."""
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    for split in ("train", "test"):
        images = []
        for i in range(num_rows):
            side = sizes[i % len(sizes)] if sizes else size
            array = rng.integers(0, 256, size=(side, side, channels), dtype=np.uint8)
            images.append(Image.fromarray(array[..., 0] if channels == 1 else array))
        columns = {image_column: images}
        features = {image_column: ImageFeature()}
        if label_column is not None:
            columns[label_column] = [i % num_classes for i in range(num_rows)]
            features[label_column] = ClassLabel(num_classes=num_classes) if class_label else Value("int64")
        dataset = Dataset.from_dict(columns, features=Features(features))
        (folder / "data").mkdir(parents=True, exist_ok=True)
        dataset.to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder
