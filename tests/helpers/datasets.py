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


def make_shape_folders(
    root: Path,
    per_class: int = 60,
    validation_per_class: int = 20,
    classes: tuple[str, ...] = ("circle", "square"),
    sizes: tuple[int, int] = (40, 96),
    seed: int = 0,
) -> Path:
    """RGB photos of one shape each, as JPEG image folders `root/{train,validation}/<class>/<n>.jpg`: a filled circle,
    square or triangle of random size, color and place on a noisy background of another random color, each picture of
    a random width and height. What tells the classes apart is a local form anywhere in the picture: a CNN reads it,
    a pixel-level MLP finds nothing that holds from one picture to the next."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("validation", validation_per_class)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                width = int(rng.integers(sizes[0], sizes[1] + 1))
                height = int(width * rng.uniform(0.75, 1.33))  # photos of a few shapes: near-square, not all
                background = rng.integers(0, 256, size=3)
                noise = rng.normal(0, 20, size=(height, width, 3))
                picture = Image.fromarray(np.clip(background + noise, 0, 255).astype(np.uint8))
                radius = rng.uniform(0.2, 0.35) * min(width, height)
                cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
                color = tuple(int(c) for c in (background + rng.integers(80, 176, size=3)) % 256)
                pen = ImageDraw.Draw(picture)
                box = (cx - radius, cy - radius, cx + radius, cy + radius)
                if name == "circle":
                    pen.ellipse(box, fill=color)
                elif name == "square":
                    pen.rectangle(box, fill=color)
                else:
                    corners = [(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)]
                    pen.polygon(corners, fill=color)
                picture.save(folder / f"{index}.jpg", quality=85)
    return root


def make_text_dataset(folder: Path, train: str, validation: str) -> Path:
    """Write `folder/data/{train,validation}-00000-of-00001.parquet`, one row whose `text` holds the whole split, as
    `karpathy/tiny_shakespeare` lays out its text; return `folder`."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("validation", validation)):
        Dataset.from_dict({"text": [text]}).to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder
