"""diffusers' own ModelTesterMixin / TrainingTesterMixin applied to the GAN's models (a measurement)."""

import torch

from hfnets import GanDiscriminator, GanGenerator

from .testing_utils import BaseModelTesterConfig, ModelTesterMixin, TrainingTesterMixin


class GeneratorConfig(BaseModelTesterConfig):
    @property
    def model_class(self):
        return GanGenerator

    @property
    def output_shape(self):
        return (1, 28, 28)

    @property
    def main_input_name(self):
        return "latents"

    def get_init_dict(self):
        return {"latent_dim": 16, "num_classes": 10, "base_channels": 8}

    def get_dummy_inputs(self):
        g = torch.Generator().manual_seed(0)
        return {"latents": torch.randn(4, 16, generator=g), "class_labels": torch.tensor([0, 1, 2, 3])}


class TestGanGenerator(GeneratorConfig, ModelTesterMixin, TrainingTesterMixin):
    pass


class DiscriminatorConfig(BaseModelTesterConfig):
    @property
    def model_class(self):
        return GanDiscriminator

    @property
    def output_shape(self):
        return ()  # one score per image

    def get_init_dict(self):
        return {"num_classes": 10, "base_channels": 8}

    def get_dummy_inputs(self):
        g = torch.Generator().manual_seed(0)
        return {"images": torch.rand(4, 1, 28, 28, generator=g) * 2 - 1, "class_labels": torch.tensor([0, 1, 2, 3])}


class TestGanDiscriminator(DiscriminatorConfig, ModelTesterMixin, TrainingTesterMixin):
    pass
