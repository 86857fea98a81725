"""The GAN: generator and discriminator (diffusers models) and GanPipeline."""

from .modeling_gan import GanDiscriminator, GanDiscriminatorOutput, GanGenerator, GanGeneratorOutput
from .pipeline_gan import GanPipeline

__all__ = ["GanDiscriminator", "GanDiscriminatorOutput", "GanGenerator", "GanGeneratorOutput", "GanPipeline"]
