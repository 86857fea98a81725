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

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor

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


class GanPipeline(DiffusionPipeline):
    r"""
    Generates images with a GAN generator (`GanGenerator`): noise (+ class) in, images out.

    Args:
        generator (`GanGenerator`): the trained generator network.

    Example:

    ```python
    >>> import torch
    >>> from diffusers import DiffusionPipeline

    >>> pipe = DiffusionPipeline.from_pretrained("path/to/mnist-gan", trust_remote_code=True)
    >>> images = pipe(batch_size=10, class_labels=list(range(10)), generator=torch.manual_seed(0)).images
    ```
    """

    model_cpu_offload_seq = "generator"
    # The most images one call draws: a larger batch is refused before any memory is asked for. Raise it on a
    # machine that can hold more (`pipe.max_batch_size = 65536`), or draw in several calls.
    max_batch_size = 4096

    def __init__(self, generator):
        super().__init__()
        self.register_modules(generator=generator)

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
                own_code = isinstance(entry, list) and len(entry) == 2 and entry[0] not in _LIBRARIES
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
        if batch_size is None:
            num_labels = 0 if class_labels is None else class_labels.numel()
            batch_size = num_labels if num_labels > 1 else (len(latents) if latents is not None else 1)
        batch_size = check_count("batch_size", batch_size, self.max_batch_size)
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}.")
        config = self.generator.config
        device, dtype = self._execution_device, self.generator.dtype
        labels = self._class_labels(class_labels, batch_size, config.num_classes, device, generator)

        # 1. noise: z ~ N(0, I), from the caller's generator for reproducibility
        if latents is None:
            latents = randn_tensor((batch_size, config.latent_dim), generator=generator, device=device, dtype=dtype)
        elif tuple(latents.shape) != (batch_size, config.latent_dim):
            raise ValueError(
                f"`latents` must have shape {(batch_size, config.latent_dim)}, got {tuple(latents.shape)}."
            )
        # 2. one forward pass of the generator: images in [-1, 1] -> [0, 1]
        images = self.generator(latents.to(device=device, dtype=dtype), labels).sample
        images = (images.float() / 2 + 0.5).clamp(0, 1)

        if output_type == "np" or output_type == "pil":
            images = images.permute(0, 2, 3, 1).cpu().numpy()  # (batch, H, W, C)
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        return ImagePipelineOutput(images=images) if return_dict else (images,)

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

    @staticmethod
    def _class_labels(class_labels, batch_size: int, num_classes: int, device, generator=None) -> torch.Tensor | None:
        """Check and expand `class_labels` to a (batch_size,) tensor on `device`; none given on a class-conditional
        generator: a random class per image, drawn with `generator`."""
        if num_classes == 0:
            if class_labels is not None:
                raise ValueError("This GAN is unconditional (num_classes=0): it takes no `class_labels`.")
            return None
        if class_labels is None:
            if isinstance(generator, list):
                generator = generator[0]
            where = generator.device if generator is not None else "cpu"
            return torch.randint(0, num_classes, (batch_size,), generator=generator, device=where).to(device)
        labels = class_label_tensor(class_labels)
        if len(labels) == 0:
            raise ValueError("`class_labels` is empty: give at least one class.")
        if len(labels) == 1:
            labels = labels.expand(batch_size)
        if len(labels) != batch_size:
            raise ValueError(
                f"Got {len(labels)} class labels for batch_size={batch_size}: pass one, or one per image."
            )
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"`class_labels` must lie in [0, {num_classes}), got {labels.tolist()}.")
        return labels.to(device)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """`DiffusionPipeline.save_pretrained`, plus the code files, so the folder loads where hfnets is absent.

        The pipeline's source goes to `<folder>/pipeline_gan.py` and `model_index.json` names it
        (`"_class_name": ["pipeline_gan", "GanPipeline"]`); each component of our own gets its source in its
        subfolder (`generator/modeling_gan.py`) and the entry `["modeling_gan", "GanGenerator"]`. Load it with
        `DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)`.
        """
        super().save_pretrained(save_directory, **kwargs)
        index_path = os.path.join(save_directory, "model_index.json")
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
        shutil.copyfile(inspect.getfile(type(self)), os.path.join(save_directory, "pipeline_gan.py"))
        index["_class_name"] = ["pipeline_gan", type(self).__name__]
        for name, component in self.components.items():
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
