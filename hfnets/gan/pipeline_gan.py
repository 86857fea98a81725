"""GanPipeline: draw digits with a trained GAN generator, the diffusers way.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library, torch and
diffusers, and not the generator's own file, which diffusers loads from the generator's subfolder.
"""

import importlib
import inspect
import json
import numbers
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

OUTPUT_TYPES = ("pil", "np", "pt")
# Component libraries diffusers imports by name; anything else is our own code and travels with the weights.
_LIBRARIES = ("diffusers", "transformers")


def class_label_tensor(class_labels) -> torch.Tensor:
    """`class_labels` (an int, NumPy integer, list or tensor of them) as a flat long tensor; anything else refused."""
    try:
        labels = torch.as_tensor(class_labels)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"`class_labels` must be integers (one, a list or a tensor), got {class_labels!r}."
        ) from error
    if labels.numel() and (labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex()):
        raise ValueError(f"`class_labels` must be integers, got {labels.tolist()} ({labels.dtype}).")
    return labels.to(torch.long).flatten().cpu()


def check_count(name: str, value, limit: int) -> int:
    """A positive integer (Python or NumPy) up to `limit`, or a clear error naming the argument and the limit."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= limit:
        raise ValueError(f"`{name}` must be an integer in [1, {limit}], got {value!r}.")
    return int(value)


def expand_class_labels(class_labels, batch_size: int | None, num_classes: int, generator=None) -> torch.Tensor:
    """`class_labels` checked and expanded to one per image (`batch_size` of them; None: as many as given), on the
    CPU; none given: a random class per image (one where `batch_size` is None), drawn with `generator`."""
    if class_labels is None:
        if isinstance(generator, list):
            generator = generator[0]
        device = generator.device if generator is not None else "cpu"
        count = 1 if batch_size is None else batch_size
        return torch.randint(0, num_classes, (count,), generator=generator, device=device).cpu()
    labels = class_label_tensor(class_labels)
    if len(labels) == 0:
        raise ValueError("`class_labels` is empty: give at least one class.")
    if len(labels) == 1 and batch_size is not None:
        labels = labels.expand(batch_size)
    if batch_size is not None and len(labels) != batch_size:
        raise ValueError(f"Got {len(labels)} class labels for batch_size={batch_size}: pass one, or one per image.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"`class_labels` must lie in [0, {num_classes}), got {labels.tolist()}.")
    return labels


@dataclass
class GanDiscriminationOutput(BaseOutput):
    """What the discriminator believes of each image.

    `scores`: its raw output (batch,), trained with the hinge loss: it pushes real images to +1 or above and the
    generator's to -1 or below, so a score above 0 leans "real", below 0 "fake", and beyond +-1 is sure.
    `class_labels`: the class each image was scored as (batch,), or None for an unconditional GAN.
    """

    scores: torch.Tensor
    class_labels: torch.Tensor | None


class GanPipeline(DiffusionPipeline):
    r"""
    Generates images with a GAN generator (`GanGenerator`): noise (+ class) in, images out. With the discriminator
    it was trained against (`GanDiscriminator`, optional) it also says how real an image looks to that network
    ([`~GanPipeline.discriminate`]).

    Args:
        generator (`GanGenerator`): the trained generator network.
        discriminator (`GanDiscriminator`, *optional*): the discriminator of the same training run.

    Example:

    ```python
    >>> import torch
    >>> from diffusers import DiffusionPipeline

    >>> pipe = DiffusionPipeline.from_pretrained("path/to/mnist-gan", trust_remote_code=True)
    >>> images = pipe(batch_size=10, class_labels=list(range(10)), generator=torch.manual_seed(0)).images
    ```
    """

    model_cpu_offload_seq = "generator"
    _optional_components = ["discriminator"]
    # The most images one call draws: a larger batch is refused before any memory is asked for. Raise it on a
    # machine that can hold more (`pipe.max_batch_size = 65536`), or draw in several calls.
    max_batch_size = 4096

    def __init__(self, generator, discriminator=None):
        super().__init__()
        self.register_modules(generator=generator, discriminator=discriminator)

    @property
    def num_classes(self) -> int:
        """Classes the pipeline can draw (0 for an unconditional generator)."""
        return self.generator.config.num_classes

    @classmethod
    def load_config(cls, *args, **kwargs):
        """`model_index.json` names this file and the generator's as the folder's own code, for loading where hfnets
        is absent (with `trust_remote_code=True`). Loading through this class, the package that defines it is at
        hand: take the classes from it rather than run the folder's copies."""
        loaded = super().load_config(*args, **kwargs)
        config = loaded[0] if isinstance(loaded, tuple) else loaded
        package = cls.__module__.split(".")[0]
        if config.get("_class_name") == ["pipeline_gan", cls.__name__] and package != "pipeline_gan":
            config["_class_name"] = cls.__name__
            module = importlib.import_module(package)
            for name, entry in config.items():
                own_code = isinstance(entry, list) and len(entry) == 2 and entry[0] not in (*_LIBRARIES, None)
                if own_code and name != "_class_name" and hasattr(module, entry[1]):
                    config[name] = [getattr(module, entry[1]).__module__, entry[1]]  # an imported module's class
        return loaded

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int | None = None,
        class_labels: int | list[int] | torch.Tensor | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> ImagePipelineOutput | tuple:
        r"""
        Args:
            batch_size (`int`, *optional*): how many images (default: one per class label when several are given,
                else one per row of `latents`, else 1).
            class_labels (`int`, `list[int]` or `torch.Tensor`, *optional*): the digit(s) to draw: one for all images
                or one per image. Left out on a class-conditional generator, each image gets a random class (drawn
                with `generator`). Refused by an unconditional one.
            generator (`torch.Generator`, *optional*): makes the noise, and so the images, reproducible.
            latents (`torch.Tensor` of shape `(batch_size, latent_dim)`, *optional*): noise to use instead.
            output_type (`str`, *optional*, defaults to `"pil"`): `"pil"` (list of PIL images), `"np"` (float32
                array (batch, H, W, C) in [0, 1]) or `"pt"` (tensor (batch, C, H, W) in [0, 1]).
            return_dict (`bool`, *optional*, defaults to `True`): return an `ImagePipelineOutput`, not a tuple.

        Returns:
            [`~diffusers.ImagePipelineOutput`] with `images`.
        """
        if class_labels is not None:
            class_labels = class_label_tensor(class_labels)
        if batch_size is None:  # one image per class label, else per row of latents, else one
            num_labels = 0 if class_labels is None else class_labels.numel()
            batch_size = num_labels if num_labels > 1 else (len(latents) if latents is not None else 1)
        self.check_inputs(batch_size, output_type)
        batch_size = int(batch_size)
        config = self.generator.config
        device, dtype = self._execution_device, self.generator.dtype

        # 1. one class per image (random ones where none are given)
        labels = self._class_labels(class_labels, batch_size, config.num_classes, device, generator)
        # 2. noise: z ~ N(0, I), from the caller's generator for reproducibility
        latents = self.prepare_latents(batch_size, config.latent_dim, dtype, device, generator, latents)
        # 3. one forward pass of the generator: images in [-1, 1] -> [0, 1]
        images = self.generator(latents, labels).sample
        images = (images.float() / 2 + 0.5).clamp(0, 1)

        # 4. the output type asked for
        if output_type == "np" or output_type == "pil":
            images = images.permute(0, 2, 3, 1).cpu().numpy()  # (batch, H, W, C)
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        return ImagePipelineOutput(images=images) if return_dict else (images,)

    def check_inputs(self, batch_size, output_type: str) -> None:
        """Refuse, before any work, a call the pipeline cannot answer."""
        check_count("batch_size", batch_size, self.max_batch_size)
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}.")

    def prepare_latents(
        self,
        batch_size: int,
        latent_dim: int,
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The generator's input noise (batch_size, latent_dim): drawn with `generator`, or the caller's `latents`
        checked (shape, finite values) and moved to `device`."""
        shape = (batch_size, latent_dim)
        if latents is None:
            return randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        if tuple(latents.shape) != shape:
            raise ValueError(f"`latents` must have shape {shape}, got {tuple(latents.shape)}.")
        if not torch.isfinite(latents).all():
            raise ValueError("`latents` holds NaN or infinite values: pass finite noise (e.g. from torch.randn).")
        return latents.to(device=device, dtype=dtype)

    @torch.no_grad()
    def interpolate(
        self,
        start_seed: int,
        end_seed: int,
        num_images: int = 8,
        class_labels: int | list[int] | None = None,
        output_type: str = "pil",
    ) -> ImagePipelineOutput:
        """Images along the great circle (slerp) between the noise of two seeds: a smooth morph for demos."""
        if isinstance(num_images, numbers.Integral) and num_images < 2:
            raise ValueError(f"`num_images` must be >= 2 (the two ends), got {num_images}.")
        num_images = check_count("num_images", num_images, self.max_batch_size)
        latent_dim, device = self.generator.config.latent_dim, self._execution_device
        start, end = (
            torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)) for seed in (start_seed, end_seed)
        )
        angle = torch.acos((start / start.norm()).dot(end / end.norm()).clamp(-1, 1))
        steps = torch.linspace(0, 1, num_images)[:, None]
        if angle.abs() < 1e-6:  # the same direction: plain linear interpolation
            latents = (1 - steps) * start + steps * end
        else:
            latents = (torch.sin((1 - steps) * angle) * start + torch.sin(steps * angle) * end) / torch.sin(angle)
        num_classes = self.generator.config.num_classes
        if class_labels is None and num_classes:  # one class for the whole strip, chosen by the start seed
            class_labels = int(
                torch.randint(0, num_classes, (1,), generator=torch.Generator().manual_seed(start_seed))
            )
        return self(num_images, class_labels, latents=latents.to(device), output_type=output_type)

    @torch.no_grad()
    def discriminate(
        self,
        images: "Image.Image | list[Image.Image] | np.ndarray | torch.Tensor",
        class_labels: int | list[int] | torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> GanDiscriminationOutput | tuple:
        r"""
        The discriminator's score for each image: how real it looks to the network the generator was trained to fool.

        Args:
            images: in the pipeline's own output formats: PIL images (resized to the model's side and converted to
                its channels), a float array (batch, H, W, C) or a tensor (batch, C, H, W), with values in [0, 1].
            class_labels (`int`, `list[int]` or `torch.Tensor`, *optional*): the class each image claims to be (one
                for all or one per image); a class-conditional discriminator judges "a real image *of this class*".
                Required by a class-conditional GAN, refused by an unconditional one.
            return_dict (`bool`, *optional*, defaults to `True`): return a [`GanDiscriminationOutput`], not a tuple.

        The images are scored together, as one batch, as in training: the discriminator's minibatch-deviation
        feature sees how varied the batch is, so a score moves slightly with the company an image keeps (score a
        batch of one for an answer that depends on the image alone; copies of one image count as alone).
        """
        if self.discriminator is None:
            raise ValueError(
                "This pipeline has no discriminator: load a folder saved with one (scripts/train_gan.py saves it in "
                "`discriminator/`), or pass `discriminator=GanDiscriminator.from_pretrained(...)` to the pipeline."
            )
        config = self.discriminator.config
        pixels = self._image_tensor(images, config.num_channels, config.image_size)
        if len(pixels) == 0:
            raise ValueError("`images` is empty: give at least one image to score.")
        count = check_count("batch_size", len(pixels), self.max_batch_size)
        device, dtype = self._execution_device, self.discriminator.dtype
        if config.num_classes and class_labels is None:
            raise ValueError(
                f"This discriminator is class-conditional: pass `class_labels` in [0, {config.num_classes}), the "
                "class each image claims to be."
            )
        labels = self._class_labels(class_labels, count, config.num_classes, device)
        scores = self.discriminator((pixels * 2 - 1).to(device=device, dtype=dtype), labels).logits.float()
        labels = None if labels is None else labels.cpu()
        return GanDiscriminationOutput(scores=scores.cpu(), class_labels=labels) if return_dict else (scores, labels)

    @staticmethod
    def _image_tensor(images, num_channels: int, image_size: int) -> torch.Tensor:
        """Images in the pipeline's output formats as a float tensor (batch, C, H, W) in [0, 1]; a clear error for
        anything else."""
        if isinstance(images, Image.Image):
            images = [images]
        if isinstance(images, list) and images and all(isinstance(image, Image.Image) for image in images):
            mode = "L" if num_channels == 1 else "RGB"
            arrays = [
                np.asarray(image.convert(mode).resize((image_size, image_size), Image.BILINEAR), dtype=np.float32)
                for image in images
            ]
            pixels = torch.from_numpy(np.stack(arrays) / 255.0).float()
            return pixels[:, None] if num_channels == 1 else pixels.permute(0, 3, 1, 2)
        if isinstance(images, np.ndarray):
            if images.ndim != 4:
                raise ValueError(f"An image array must be (batch, H, W, C) in [0, 1], got shape {images.shape}.")
            images = torch.from_numpy(images).permute(0, 3, 1, 2)
        if not isinstance(images, torch.Tensor):
            raise ValueError(
                f"`images` must be PIL images, a (batch, H, W, C) array or a (batch, C, H, W) tensor, got "
                f"{type(images).__name__}."
            )
        expected = (num_channels, image_size, image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected or not images.is_floating_point():
            raise ValueError(
                f"`images` must be floats of shape (batch, {', '.join(map(str, expected))}), got "
                f"{tuple(images.shape)} ({images.dtype})."
            )
        if len(images) and (images.min() < 0 or images.max() > 1 or not torch.isfinite(images).all()):
            raise ValueError("`images` must hold values in [0, 1], as the pipeline outputs them.")
        return images.float()

    @staticmethod
    def _class_labels(class_labels, batch_size: int, num_classes: int, device, generator=None) -> torch.Tensor | None:
        """`class_labels` checked and expanded to a (batch_size,) tensor on `device` (random classes where none are
        given); None for an unconditional generator."""
        if num_classes == 0:
            if class_labels is not None:
                raise ValueError("This GAN is unconditional (num_classes=0): it takes no `class_labels`.")
            return None
        return expand_class_labels(class_labels, batch_size, num_classes, generator).to(device)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """`DiffusionPipeline.save_pretrained`, plus the code files, so the folder loads where hfnets is absent.

        The pipeline's source goes to `<folder>/pipeline_gan.py` and `model_index.json` names it
        (`"_class_name": ["pipeline_gan", "GanPipeline"]`); each component of our own gets its source in its
        subfolder (`generator/modeling_gan.py`) and the entry `["modeling_gan", "GanGenerator"]`. Load it with
        `DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)`.
        """
        super().save_pretrained(save_directory, **kwargs)
        save_code_files(self, save_directory)


def save_code_files(pipeline: DiffusionPipeline, save_directory: str | os.PathLike) -> None:
    """Beside a saved pipeline, its own code: the pipeline's source file at the folder's root and each non-library
    component's source in its subfolder, named in `model_index.json` (`["pipeline_gan", "GanPipeline"]`,
    `["modeling_gan", "GanGenerator"]`) so that `trust_remote_code=True` loads them."""
    index_path = os.path.join(save_directory, "model_index.json")
    with open(index_path, encoding="utf-8") as handle:
        index = json.load(handle)
    source = inspect.getfile(type(pipeline))
    shutil.copyfile(source, os.path.join(save_directory, os.path.basename(source)))
    index["_class_name"] = [os.path.splitext(os.path.basename(source))[0], type(pipeline).__name__]
    for name, component in pipeline.components.items():
        if component is None or type(component).__module__.split(".")[0] in _LIBRARIES:
            continue
        source = inspect.getfile(type(component))
        shutil.copyfile(source, os.path.join(save_directory, name, os.path.basename(source)))
        index[name] = [os.path.splitext(os.path.basename(source))[0], type(component).__name__]
    # Written atomically, as hfnets.atomic.write_json_atomically does (this file travels alone, without it).
    with tempfile.NamedTemporaryFile("w", dir=save_directory, suffix=".json", delete=False) as tmp:
        json.dump(index, tmp, indent=2, sort_keys=True)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, index_path)
