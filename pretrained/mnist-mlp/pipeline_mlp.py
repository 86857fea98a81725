"""The image-classification pipeline of the hfnets digit classifiers: transformers' own, keeping transparency.

transformers' `ImageClassificationPipeline` converts every image it opens to RGB. A drawing saved with a transparent
background (what canvases and drawing apps export: black ink, alpha 0 around it) then becomes all black, and the
digit is lost before the image processor sees it. This subclass hands images to the image processor as they are
(mode, alpha and all), so the processor can tell ink from background; everything else is the stock pipeline.

A model folder saved through this pipeline (`pipe.save_pretrained(folder)`) names it in `config.json`
(`custom_pipelines`) and carries this file, so `pipeline("image-classification", model=folder,
trust_remote_code=True)` uses it with or without hfnets installed.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library, PIL and
transformers.
"""

import base64
import io
import os
import urllib.request

import PIL.Image
import PIL.ImageOps
from transformers import AutoModelForImageClassification, ImageClassificationPipeline

# The most pixels an image file may have to be opened (about 8000 x 8000): checked from its header, before decoding.
MAX_IMAGE_PIXELS = 64_000_000


class ImageTooLargeError(ValueError):
    """An image file with more pixels than will be decoded."""


class DigitClassificationPipeline(ImageClassificationPipeline):
    """`ImageClassificationPipeline` that opens images without dropping their alpha channel.

    Accepts what the stock pipeline accepts (a PIL image, a local path, an http(s) URL, a base64 string, a numpy
    array or a torch tensor, or a list of them) and the same arguments (`top_k`, `function_to_apply`, `timeout`).
    """

    def __call__(self, inputs=None, **kwargs):
        """The stock pipeline's call; where one image of a list cannot be read, the error says which one."""
        try:
            return super().__call__(inputs, **kwargs)
        except ValueError as error:
            if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
                raise
            for index, image in enumerate(inputs):
                try:
                    self.preprocess(image, timeout=kwargs.get("timeout"))
                except ValueError as item_error:
                    raise ValueError(f"Image {index} of the {len(inputs)} given: {item_error}") from error
            raise

    def preprocess(self, image, timeout=None):
        if isinstance(image, str):
            image = open_image(image, timeout=timeout)
        elif isinstance(image, PIL.Image.Image):
            image = PIL.ImageOps.exif_transpose(image)
        model_inputs = self.image_processor(images=image, return_tensors="pt")
        return model_inputs.to(self.dtype)


def open_image(source: str, timeout: float | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> PIL.Image.Image:
    """A path, an http(s) URL or a base64 string (optionally a `data:image/...` URL) as a PIL image, in its own
    mode, upright. An image of more than `max_pixels` pixels is refused from its header, before it is decoded."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=timeout) as response:
            data = response.read()
    elif os.path.isfile(source):
        with open(source, "rb") as file:
            data = file.read()
    else:
        try:
            data = base64.b64decode(source.split(",", 1)[1] if source.startswith("data:image/") else source)
        except ValueError:
            data = b""
    try:
        image = PIL.Image.open(io.BytesIO(data))  # reads the header only
        if image.width * image.height > max_pixels:
            raise ImageTooLargeError(
                f"The image {source[:80]!r} is {image.width}x{image.height} pixels, more than the {max_pixels:,} "
                "accepted: a digit needs far fewer. Send a smaller image."
            )
        # A JPEG is decoded at a reduced scale where it is larger than needed (the processor works at 1024 pixels a
        # side): a phone photo costs a fraction of its full decode.
        image.draft(image.mode, (1024, 1024))
        image.load()
    except PIL.Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"The image {source[:80]!r} is too large to open: {error}") from error
    except (PIL.UnidentifiedImageError, OSError) as error:
        raise ValueError(
            f"Could not read an image from {source[:80]!r}: pass a PIL image, an image file's path, an http(s) URL "
            "or a base64-encoded image."
        ) from error
    return PIL.ImageOps.exif_transpose(image)


# What `Pipeline.save_pretrained` writes into the model's `config.json` as `custom_pipelines`, so that
# `pipeline("image-classification", model=folder, trust_remote_code=True)` finds this class. Set on the class
# rather than in transformers' global `PIPELINE_REGISTRY`, which would replace the image-classification pipeline
# of every other model in the process.
DigitClassificationPipeline._registered_impl = {
    "image-classification": {
        "impl": DigitClassificationPipeline,
        "pt": (AutoModelForImageClassification,),
        "type": "image",
    }
}
