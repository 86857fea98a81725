"""DdpmPipeline: class-conditional DDPM sampling with classifier-free guidance, the diffusers way.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library, torch and
diffusers. The UNet is diffusers' own `UNet2DModel`; any diffusers noise scheduler (DDPM, DDIM, DPM-Solver, Euler)
can drive it.
"""

import inspect
import json
import math
import numbers
import os
import shutil
import tempfile
from collections.abc import Callable

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput, UNet2DModel
from diffusers.schedulers import KarrasDiffusionSchedulers
from diffusers.utils.torch_utils import randn_tensor

OUTPUT_TYPES = ("pil", "np", "pt", "latent")
# Component libraries diffusers imports by name; anything else is our own code and travels with the weights.
_LIBRARIES = ("diffusers", "transformers")


def null_class(unet: UNet2DModel) -> int | None:
    """The class id that means "no class" (the last class embedding), or None for an unconditional UNet."""
    return None if unet.config.num_class_embeds is None else unet.config.num_class_embeds - 1


# Copied from hfnets.gan.pipeline_gan.class_label_tensor
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


# Copied from hfnets.gan.pipeline_gan.check_count
def check_count(name: str, value, limit: int) -> int:
    """A positive integer (Python or NumPy) up to `limit`, or a clear error naming the argument and the limit."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= limit:
        raise ValueError(f"`{name}` must be an integer in [1, {limit}], got {value!r}.")
    return int(value)


# Copied from hfnets.gan.pipeline_gan.expand_class_labels
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


def check_resolution(unet: UNet2DModel, size: int) -> None:
    """Refuse a side the UNet cannot take: each down block but the last halves it, so it must divide evenly."""
    factor = 2 ** (len(unet.config.block_out_channels) - 1)
    if size < factor or size % factor != 0:
        raise ValueError(
            f"A UNet with {len(unet.config.block_out_channels)} resolution levels needs an image side that is a "
            f"multiple of {factor}, got {size}: pad the images (e.g. to {max(factor, -(-size // factor) * factor)}) "
            "or use fewer levels."
        )


class DdpmPipeline(DiffusionPipeline):
    r"""
    Draws images with a (class-conditional) `UNet2DModel` and classifier-free guidance.

    A class-conditional UNet has one class embedding more than the dataset has classes: the last one is the "null"
    class it was trained with when labels were dropped. Guidance mixes the two predictions,
    `uncond + guidance_scale * (cond - uncond)`; `guidance_scale=1` is plain conditional sampling (one UNet pass per
    step). When the UNet works at a larger side than the images it was trained on (padded to fit its down blocks),
    the samples are cropped back to `image_size`.

    Args:
        unet ([`UNet2DModel`]): the noise (or v) prediction network.
        scheduler ([`SchedulerMixin`]): any diffusers noise scheduler; swap it with
            `pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)`.
        image_size (`int`, *optional*): side of the images returned (default: the UNet's `sample_size`).
        guidance_scale (`float`, *optional*, defaults to 1.0): the guidance used when a call gives none.

    Example:

    ```python
    >>> import torch
    >>> from diffusers import DiffusionPipeline, DPMSolverMultistepScheduler

    >>> pipe = DiffusionPipeline.from_pretrained("path/to/mnist-ddpm", trust_remote_code=True)
    >>> pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    >>> images = pipe(class_labels=list(range(10)), num_inference_steps=25, generator=torch.manual_seed(0)).images
    ```
    """

    model_cpu_offload_seq = "unet"
    _callback_tensor_inputs = ["latents", "noise_pred", "pred_original_sample"]
    _compatibles = [e.name for e in KarrasDiffusionSchedulers]
    # The most images one call draws: a larger batch is refused before any memory is asked for. Raise it on a
    # machine that can hold more (`pipe.max_batch_size = 4096`), or draw in several calls.
    max_batch_size = 1024

    def __init__(self, unet: UNet2DModel, scheduler, image_size: int | None = None, guidance_scale: float = 1.0):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
        check_resolution(unet, unet.config.sample_size)
        image_size = unet.config.sample_size if image_size is None else image_size
        if not 0 < image_size <= unet.config.sample_size:
            raise ValueError(f"`image_size` must lie in [1, {unet.config.sample_size}] (the UNet's side).")
        self.register_to_config(image_size=image_size, guidance_scale=guidance_scale)

    @property
    def num_classes(self) -> int:
        """Classes the pipeline can draw (0 for an unconditional UNet)."""
        null = null_class(self.unet)
        return 0 if null is None else null

    @property
    def guidance_scale(self) -> float:
        """The guidance of the running call; a `callback_on_step_end` may change `pipe._guidance_scale`."""
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @classmethod
    def load_config(cls, *args, **kwargs):
        """`model_index.json` names this file as the folder's own code, for loading where hfnets is absent (with
        `trust_remote_code=True`). Loading through this class, the class is already at hand: use it."""
        loaded = super().load_config(*args, **kwargs)
        config = loaded[0] if isinstance(loaded, tuple) else loaded
        if config.get("_class_name") == ["pipeline_ddpm", cls.__name__] and cls.__module__ != "pipeline_ddpm":
            config["_class_name"] = cls.__name__
        return loaded

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int | None = None,
        class_labels: int | list[int] | torch.Tensor | None = None,
        guidance_scale: float | None = None,
        num_inference_steps: int = 1000,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable[["DdpmPipeline", int, int, dict], dict] | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
    ) -> ImagePipelineOutput | tuple:
        r"""
        Args:
            batch_size (`int`, *optional*): how many images (default: one per class label, else 1).
            class_labels (`int`, `list[int]` or `torch.Tensor`, *optional*): the class(es) to draw: one for all
                images or one per image. Left out on a class-conditional UNet, each image gets a random class (drawn
                with `generator`). Refused by an unconditional UNet.
            guidance_scale (`float`, *optional*): classifier-free guidance, >= 1 (default: the pipeline's
                `guidance_scale`, the value it was published with). 1 is unguided conditional sampling.
            num_inference_steps (`int`, *optional*, defaults to 1000): denoising steps, at most the scheduler's
                `num_train_timesteps`. DDPM wants all of them; DDIM, DPM-Solver and Euler do well with 20-50.
            generator (`torch.Generator`, *optional*): makes the noise, and so the images, reproducible.
            latents (`torch.Tensor` of shape `(batch_size, C, sample_size, sample_size)`, *optional*): the starting
                noise to use instead of drawing it.
            output_type (`str`, *optional*, defaults to `"pil"`): `"pil"` (list of PIL images), `"np"` (float32
                array (batch, H, W, C) in [0, 1]), `"pt"` (tensor (batch, C, H, W) in [0, 1]) or `"latent"` (the
                final sample as the UNet made it: (batch, C, sample_size, sample_size) in about [-1, 1], uncropped).
            return_dict (`bool`, *optional*, defaults to `True`): return an `ImagePipelineOutput`, not a tuple.
            callback_on_step_end (`Callable`, *optional*): called after each step as `callback_on_step_end(pipe,
                step, timestep, callback_kwargs)`; `callback_kwargs` holds the tensors named in
                `callback_on_step_end_tensor_inputs`, and the `"latents"` of the dict it returns replace the
                sample. It may also set `pipe._guidance_scale` (for example to 1 for the last steps: half the UNet
                work).
            callback_on_step_end_tensor_inputs (`list[str]`, *optional*): the tensors passed to the callback, among
                `"latents"` (the sample after the step, at the UNet's side, in the model's range), `"noise_pred"`
                (the UNet's prediction at this step after guidance: the noise, or v under v-prediction) and
                `"pred_original_sample"` (the scheduler's estimate of the clean image from this step's prediction,
                where the scheduler computes one, as DDPM, DDIM and Euler do; else None).

        Returns:
            [`~diffusers.ImagePipelineOutput`] with `images`.
        """
        guidance_scale = self.config.guidance_scale if guidance_scale is None else guidance_scale
        self.check_inputs(
            batch_size, guidance_scale, num_inference_steps, output_type, callback_on_step_end_tensor_inputs
        )
        self._guidance_scale = float(guidance_scale)
        device, dtype = self._execution_device, self.unet.dtype

        # 1. one class per image (random ones where none are given), and so the batch size
        labels = self._class_labels(class_labels, None if batch_size is None else int(batch_size), generator)
        if labels is not None:
            batch_size = check_count("batch_size (the number of class labels)", len(labels), self.max_batch_size)
        batch_size = 1 if batch_size is None else int(batch_size)
        guided_labels = None
        if labels is not None:
            labels = labels.to(device)
            # With guidance, one batched pass per step: the conditional half, then the null-class half.
            guided_labels = torch.cat([labels, torch.full_like(labels, null_class(self.unet))])

        # 2. the timesteps, and the starting noise at the UNet's side
        self.scheduler.set_timesteps(int(num_inference_steps), device=device)
        latents = self.prepare_latents(batch_size, dtype, device, generator, latents)
        step_kwargs = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            step_kwargs["generator"] = generator

        # 3. denoise: predict, guide, step
        self._num_timesteps = len(self.scheduler.timesteps)
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
            guided = self.do_classifier_free_guidance and labels is not None  # a callback may change it
            model_input = torch.cat([latents, latents]) if guided else latents
            model_input = self.scheduler.scale_model_input(model_input, t)
            prediction = self.unet(model_input, t, class_labels=guided_labels if guided else labels).sample
            if guided:
                conditional, unconditional = prediction.chunk(2)
                prediction = unconditional + self._guidance_scale * (conditional - unconditional)
            stepped = self.scheduler.step(prediction, t, latents, **step_kwargs)
            latents = stepped.prev_sample
            if callback_on_step_end is not None:
                estimate = getattr(stepped, "pred_original_sample", None)
                tensors = {"latents": latents, "noise_pred": prediction, "pred_original_sample": estimate}
                callback_kwargs = {name: tensors[name] for name in callback_on_step_end_tensor_inputs}
                latents = callback_on_step_end(self, i, t, callback_kwargs).get("latents", latents)

        if output_type == "latent":
            self.maybe_free_model_hooks()
            return ImagePipelineOutput(images=latents) if return_dict else (latents,)
        # 4. crop the padding away, [-1, 1] -> [0, 1], in the output type asked for
        images = self.crop(latents)
        images = (images.float() / 2 + 0.5).clamp(0, 1)
        if output_type == "np" or output_type == "pil":
            images = images.permute(0, 2, 3, 1).cpu().numpy()  # (batch, H, W, C)
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)

    def check_inputs(
        self,
        batch_size,
        guidance_scale,
        num_inference_steps,
        output_type: str,
        callback_on_step_end_tensor_inputs: list[str],
    ) -> None:
        """Refuse, before any work, a call the pipeline cannot answer."""
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}.")
        unknown = set(callback_on_step_end_tensor_inputs) - set(self._callback_tensor_inputs)
        if unknown:
            raise ValueError(f"The callback can receive only {self._callback_tensor_inputs}, not {sorted(unknown)}.")
        check_count("num_inference_steps", num_inference_steps, self.scheduler.config.num_train_timesteps)
        if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, numbers.Real):
            raise ValueError(f"`guidance_scale` must be a number >= 1, got {guidance_scale!r}.")
        if not math.isfinite(guidance_scale):
            raise ValueError(f"`guidance_scale` must be a finite number >= 1, got {guidance_scale}.")
        if batch_size is not None:
            check_count("batch_size", batch_size, self.max_batch_size)
        if self.num_classes == 0 and guidance_scale != 1:
            raise ValueError(
                f"This UNet is unconditional: guidance has no meaning, leave `guidance_scale` at 1 (got "
                f"{guidance_scale})."
            )
        if guidance_scale < 1:
            raise ValueError(
                f"`guidance_scale` must be >= 1 (1: no guidance; 2-4: clearer classes, less variety), got "
                f"{guidance_scale}."
            )

    def prepare_latents(
        self,
        batch_size: int,
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The starting noise at the UNet's side (batch_size, C, sample_size, sample_size), scaled by the scheduler's
        `init_noise_sigma`: drawn with `generator`, or the caller's `latents` checked (shape, finite values)."""
        config = self.unet.config
        shape = (batch_size, config.in_channels, config.sample_size, config.sample_size)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        elif tuple(latents.shape) != shape:
            raise ValueError(f"`latents` must have shape {shape} for this UNet, got {tuple(latents.shape)}.")
        elif not torch.isfinite(latents).all():
            raise ValueError("`latents` holds NaN or infinite values: pass finite noise (e.g. from torch.randn).")
        return latents.to(device=device, dtype=dtype) * self.scheduler.init_noise_sigma

    def crop(self, images: torch.Tensor) -> torch.Tensor:
        """Cut the centre `image_size` square out of UNet-sized images (the inverse of the training padding)."""
        margin = (images.shape[-1] - self.config.image_size) // 2
        size = self.config.image_size
        return images[..., margin : margin + size, margin : margin + size]

    def _class_labels(self, class_labels, batch_size: int | None, generator) -> torch.Tensor | None:
        """`class_labels` checked and expanded to one per image (random classes where none are given); None for an
        unconditional UNet."""
        if self.num_classes == 0:
            if class_labels is not None:
                raise ValueError("This UNet is unconditional (no class embedding): it takes no `class_labels`.")
            return None
        return expand_class_labels(class_labels, batch_size, self.num_classes, generator)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """`DiffusionPipeline.save_pretrained`, plus this file, so the folder loads where hfnets is absent.

        The source goes to `<folder>/pipeline_ddpm.py` and `model_index.json` names it (`"_class_name":
        ["pipeline_ddpm", "DdpmPipeline"]`). Load with `DiffusionPipeline.from_pretrained(folder,
        trust_remote_code=True)`.
        """
        super().save_pretrained(save_directory, **kwargs)
        save_code_files(self, save_directory)


# Copied from hfnets.gan.pipeline_gan.save_code_files
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
