"""diffusers' own PipelineTesterMixin applied to hfnets' pipelines (a measurement kept outside the project)."""

import unittest

import torch
from diffusers import DDPMScheduler, UNet2DModel

from hfnets import DdpmPipeline, GanGenerator, GanPipeline

from .pipeline_params import CLASS_CONDITIONED_IMAGE_GENERATION_BATCH_PARAMS, CLASS_CONDITIONED_IMAGE_GENERATION_PARAMS
from .test_pipelines_common import PipelineTesterMixin


class GanPipelineFastTests(PipelineTesterMixin, unittest.TestCase):
    pipeline_class = GanPipeline
    params = CLASS_CONDITIONED_IMAGE_GENERATION_PARAMS | {"batch_size"}
    batch_params = CLASS_CONDITIONED_IMAGE_GENERATION_BATCH_PARAMS
    required_optional_params = PipelineTesterMixin.required_optional_params - {
        "num_inference_steps",
        "num_images_per_prompt",
    }
    test_attention_slicing = False
    test_xformers_attention = False

    def get_dummy_components(self):
        torch.manual_seed(0)
        return {"generator": GanGenerator(latent_dim=16, num_classes=10, base_channels=8).eval()}

    def get_dummy_inputs(self, device, seed=0):
        return {
            "class_labels": [1],
            "generator": torch.Generator(device=device).manual_seed(seed),
            "output_type": "np",
        }

    def test_inference_batch_single_identical(self):
        # One forward pass: no num_inference_steps to copy into the batched inputs.
        self._test_inference_batch_single_identical(additional_params_copy_to_batched_inputs=[])


class DdpmPipelineFastTests(PipelineTesterMixin, unittest.TestCase):
    pipeline_class = DdpmPipeline
    params = CLASS_CONDITIONED_IMAGE_GENERATION_PARAMS | {"batch_size", "guidance_scale"}
    batch_params = CLASS_CONDITIONED_IMAGE_GENERATION_BATCH_PARAMS
    required_optional_params = PipelineTesterMixin.required_optional_params - {"num_images_per_prompt"}
    callback_cfg_params = frozenset()
    test_attention_slicing = False
    test_xformers_attention = False

    def get_dummy_components(self):
        torch.manual_seed(0)
        unet = UNet2DModel(
            sample_size=28,
            in_channels=1,
            out_channels=1,
            block_out_channels=(8, 16),
            layers_per_block=1,
            down_block_types=("DownBlock2D",) * 2,
            up_block_types=("UpBlock2D",) * 2,
            norm_num_groups=8,
            num_class_embeds=11,
        ).eval()
        return {"unet": unet, "scheduler": DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")}

    def get_dummy_inputs(self, device, seed=0):
        return {
            "class_labels": [1],
            "generator": torch.Generator(device=device).manual_seed(seed),
            "num_inference_steps": 2,
            "output_type": "np",
        }
