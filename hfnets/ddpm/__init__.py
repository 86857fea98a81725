"""The DDPM: diffusers' UNet2DModel and schedulers, driven by GuidedDDPMPipeline (classifier-free guidance)."""

from .pipeline_ddpm import GuidedDDPMPipeline, check_resolution, null_class

__all__ = ["GuidedDDPMPipeline", "check_resolution", "null_class"]
