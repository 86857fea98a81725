"""The DDPM: diffusers' UNet2DModel and schedulers, driven by DdpmPipeline (classifier-free guidance)."""

from .pipeline_ddpm import DdpmPipeline, check_resolution, null_class

__all__ = ["DdpmPipeline", "check_resolution", "null_class"]
