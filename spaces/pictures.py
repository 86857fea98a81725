"""Answers as image files, for every demo."""

import hashlib
import io
import os
import tempfile
import threading
from pathlib import Path

from PIL import Image


def png_file(image: Image.Image, fast: bool = False) -> str:
    """`image` as a PNG file named by its content and written atomically: identical answers to concurrent users
    share one complete file (Gradio's cache rewrites a PIL output's file in place while another request reads it).
    `fast`: the lightest compression (a few times quicker, a little larger), for pictures redrawn many times a
    second."""
    data = io.BytesIO()
    image.save(data, format="PNG", compress_level=1 if fast else 6)
    path = Path(tempfile.gettempdir(), "hfnets-demos", hashlib.sha256(data.getvalue()).hexdigest() + ".png")
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        partial.write_bytes(data.getvalue())
        os.replace(partial, path)
    return str(path)
