"""Atomic file writes: a file is written beside its destination and moved into place with `os.replace`, so a
reader, or a run killed mid-write, never sees it half-written."""

import json
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(source: str | Path, destination: str | Path) -> None:
    """Give `source` the usual file permissions (temporary files are private) and move it to `destination`."""
    os.chmod(source, 0o666 & ~_umask())
    os.replace(source, destination)


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(text)
    publish(tmp.name, path)


def write_json_atomically(path: str | Path, data: dict) -> None:
    """Write `data` as indented, key-sorted JSON to `path`, atomically."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def publish_folder(source: str | Path, destination: str | Path) -> None:
    """Give the folder `source` the usual permissions and move it to `destination`, replacing a folder there: a
    reader sees the old folder or the new one, never a mix. `source` must be on the same file system."""
    source, destination = Path(source), Path(destination)
    os.chmod(source, 0o777 & ~_umask())
    if destination.exists():
        retired = source.with_name(f"{source.name}.old")
        os.replace(destination, retired)
        os.replace(source, destination)
        shutil.rmtree(retired)
    else:
        os.replace(source, destination)


def save_image_atomically(image, path: str | Path) -> None:
    """Save a PIL image to `path` (format from the suffix) through a temporary file in the same folder."""
    path = Path(path)
    image_format = path.suffix.lstrip(".").upper().replace("JPG", "JPEG")
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        image.save(tmp, format=image_format)
    publish(tmp.name, path)
