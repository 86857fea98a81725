"""Atomic file writes: a file is written beside its destination and moved into place with `os.replace`, so a
reader, or a run killed mid-write, never sees it half-written."""

import ctypes
import errno
import json
import os
import shutil
import sys
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


def json_text(data: dict) -> str:
    """`data` as the indented, key-sorted JSON hfnets writes its results in."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_json_atomically(path: str | Path, data: dict) -> None:
    """Write `data` as `json_text` to `path`, atomically."""
    write_text_atomically(path, json_text(data))


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # an older C library
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system without the exchange
        return False
    raise OSError(error, os.strerror(error), str(second))


def publish_folder(source: str | Path, destination: str | Path) -> None:
    """Give the folder `source` the usual permissions and move it to `destination`, replacing a folder there as a
    whole: a reader, or a process killed at any moment, finds the complete old folder or the complete new one.

    `source` must be on the same file system. Where the two cannot be swapped in one step (not Linux), the old
    folder is first moved aside to `.<name>.old-*`; `recover_folder(destination)` puts it back if a kill came between
    the two moves.
    """
    source, destination = Path(source), Path(destination)
    os.chmod(source, 0o777 & ~_umask())
    if not destination.exists():
        os.replace(source, destination)
    elif _exchange(source, destination):
        shutil.rmtree(source)  # now the old folder
    else:
        retired = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.old-"))
        os.replace(destination, retired / "folder")
        os.replace(source, destination)
        shutil.rmtree(retired)


def recover_folder(destination: str | Path) -> None:
    """Clean up after a folder replacement that was killed: remove the staging and retired copies beside
    `destination` (`.<name>.save-*`, `.<name>.old-*`), after putting the old folder back if the kill left none."""
    destination = Path(destination)
    for retired in sorted(destination.parent.glob(f".{destination.name}.old-*")):
        if not destination.exists() and (retired / "folder").is_dir():
            os.replace(retired / "folder", destination)
        shutil.rmtree(retired, ignore_errors=True)
    for staging in destination.parent.glob(f".{destination.name}.save-*"):
        shutil.rmtree(staging, ignore_errors=True)


def save_image_atomically(image, path: str | Path) -> None:
    """Save a PIL image to `path` (format from the suffix) through a temporary file in the same folder."""
    path = Path(path)
    image_format = path.suffix.lstrip(".").upper().replace("JPG", "JPEG")
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        image.save(tmp, format=image_format)
    publish(tmp.name, path)
