import json

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    UNet2DModel,
)

from hfnets import DdpmPipeline
from hfnets.ddpm import check_resolution
from tests.helpers.isolated import run_without_hfnets


def tiny_unet(num_classes: int | None = 10, levels: int = 2, sample_size: int = 28) -> UNet2DModel:
    torch.manual_seed(0)
    widths = (8, 16, 16)[:levels]
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=1,
        out_channels=1,
        block_out_channels=widths,
        layers_per_block=1,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=8,
        num_class_embeds=None if num_classes is None else num_classes + 1,
    ).eval()


def pipeline(num_classes: int | None = 10, **kwargs) -> DdpmPipeline:
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    return DdpmPipeline(tiny_unet(num_classes), scheduler, **kwargs)


def run(pipe, seed: int = 0, **kwargs) -> torch.Tensor:
    kwargs.setdefault("num_inference_steps", 4)
    return pipe(generator=torch.manual_seed(seed), output_type="pt", **kwargs).images


def manual_sampling(pipe, labels: torch.Tensor, guidance_scale: float, steps: int, seed: int) -> torch.Tensor:
    """Classifier-free guided ancestral sampling written out step by step, for comparison with the pipeline."""
    unet, scheduler = pipe.unet, pipe.scheduler
    generator = torch.manual_seed(seed)
    side = unet.config.sample_size
    latents = torch.randn((len(labels), 1, side, side), generator=generator)
    scheduler.set_timesteps(steps)
    null = torch.full_like(labels, unet.config.num_class_embeds - 1)
    with torch.no_grad():
        for t in scheduler.timesteps:
            conditional = unet(latents, t, class_labels=labels).sample
            prediction = conditional
            if guidance_scale != 1:
                unconditional = unet(latents, t, class_labels=null).sample
                prediction = unconditional + guidance_scale * (conditional - unconditional)
            latents = scheduler.step(prediction, t, latents, generator=generator).prev_sample
    return (latents / 2 + 0.5).clamp(0, 1)


def test_output_types_shapes_and_range():
    pipe = pipeline()
    pil = pipe(class_labels=[3, 4], num_inference_steps=3).images
    assert len(pil) == 2 and isinstance(pil[0], PIL.Image.Image) and pil[0].size == (28, 28)
    array = pipe(batch_size=2, class_labels=3, num_inference_steps=3, output_type="np").images
    assert array.shape == (2, 28, 28, 1) and array.dtype == np.float32 and 0 <= array.min() <= array.max() <= 1
    tensor = run(pipe, batch_size=2, class_labels=3)
    assert tensor.shape == (2, 1, 28, 28) and 0 <= tensor.min() <= tensor.max() <= 1
    assert isinstance(pipe(class_labels=1, num_inference_steps=2, return_dict=False), tuple)


def test_padded_unet_output_is_cropped_back_to_the_image_size():
    # three levels need a side divisible by 4: 28 works, but a 30-pixel dataset is padded to 32 and cropped back
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    pipe = DdpmPipeline(tiny_unet(levels=3, sample_size=32), scheduler, image_size=30)
    seen = {}

    def keep_latents(pipe, step, timestep, tensors):
        seen["latents"] = tensors["latents"].clone()
        return tensors

    images = run(pipe, class_labels=[1, 2], callback_on_step_end=keep_latents)
    assert images.shape == (2, 1, 30, 30) and seen["latents"].shape == (2, 1, 32, 32)
    assert torch.equal(images, (seen["latents"][..., 1:31, 1:31] / 2 + 0.5).clamp(0, 1))


def test_same_seed_same_images_and_classes_differ():
    pipe = pipeline()
    first, again = run(pipe, class_labels=[2, 2, 7]), run(pipe, class_labels=[2, 2, 7])
    assert torch.equal(first, again)
    assert not torch.allclose(first, run(pipe, class_labels=[5, 5, 5]))
    assert not torch.allclose(first, run(pipe, seed=1, class_labels=[2, 2, 7]))


def test_guidance_one_is_unguided_conditional_sampling_and_guidance_follows_the_formula():
    pipe = pipeline()
    labels = torch.tensor([0, 4, 9])
    unguided = run(pipe, class_labels=labels, guidance_scale=1.0, seed=5)
    assert torch.allclose(unguided, manual_sampling(pipe, labels, 1.0, steps=4, seed=5), atol=1e-6)
    guided = run(pipe, class_labels=labels, guidance_scale=3.0, seed=5)
    assert torch.allclose(guided, manual_sampling(pipe, labels, 3.0, steps=4, seed=5), atol=1e-5)
    assert not torch.allclose(guided, unguided)


def test_pipeline_default_guidance_comes_from_its_config():
    pipe = pipeline(guidance_scale=3.0)
    assert torch.equal(run(pipe, class_labels=[1, 2]), run(pipe, class_labels=[1, 2], guidance_scale=3.0))


def test_random_classes_when_none_are_given_are_reproducible():
    pipe = pipeline()
    first = run(pipe, batch_size=3)
    assert first.shape == (3, 1, 28, 28) and torch.equal(first, run(pipe, batch_size=3))


@pytest.mark.parametrize(
    "scheduler_class", [DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler]
)
def test_any_scheduler_can_be_swapped_in(scheduler_class):
    pipe = pipeline()
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config)
    images = run(pipe, class_labels=[3, 8], guidance_scale=2.0, num_inference_steps=5)
    assert images.shape == (2, 1, 28, 28) and torch.isfinite(images).all()
    assert torch.equal(images, run(pipe, class_labels=[3, 8], guidance_scale=2.0, num_inference_steps=5))


def test_callback_sees_every_step_and_can_change_the_latents():
    pipe = pipeline()
    steps = []

    def record(pipe, step, timestep, tensors):
        steps.append((step, int(timestep)))
        return tensors

    run(pipe, class_labels=1, num_inference_steps=4, callback_on_step_end=record)
    assert [step for step, _ in steps] == [0, 1, 2, 3]
    assert [t for _, t in steps] == pipe.scheduler.timesteps.tolist()

    def zero_at_the_end(pipe, step, timestep, tensors):
        return {"latents": torch.zeros_like(tensors["latents"])} if step == 3 else tensors

    images = run(pipe, class_labels=1, num_inference_steps=4, callback_on_step_end=zero_at_the_end)
    assert torch.allclose(images, torch.full_like(images, 0.5))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_the_callback_gets_each_steps_noise_prediction_and_the_schedulers_clean_image_estimate(prediction_type):
    """What a timestep view draws: at every step, the guided UNet prediction and the predicted clean image x0, which
    is the scheduler's formula applied to the sample the step started from: x0 = (x_t - sqrt(1 - a) eps) / sqrt(a)
    for a noise prediction, x0 = sqrt(a) x_t - sqrt(1 - a) v for v-prediction (a = alpha_bar_t), clipped as the
    scheduler clips it."""
    pipe = pipeline()
    pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config, prediction_type=prediction_type)
    side = pipe.unet.config.sample_size
    start = torch.randn(2, 1, side, side, generator=torch.Generator().manual_seed(0))
    seen = []

    def record(pipe, step, timestep, tensors):
        seen.append((int(timestep), {name: tensor.clone() for name, tensor in tensors.items()}))
        return tensors

    inputs = ["latents", "noise_pred", "pred_original_sample"]
    pipe(
        class_labels=[3, 5],
        num_inference_steps=4,
        latents=start,
        output_type="latent",
        callback_on_step_end=record,
        callback_on_step_end_tensor_inputs=inputs,
        guidance_scale=2.0,
    )
    assert [t for t, _ in seen] == pipe.scheduler.timesteps.tolist()
    sample = start
    alphas = pipe.scheduler.alphas_cumprod
    for timestep, tensors in seen:
        alpha = alphas[timestep]
        if prediction_type == "epsilon":
            x0 = (sample - (1 - alpha).sqrt() * tensors["noise_pred"]) / alpha.sqrt()
        else:
            x0 = alpha.sqrt() * sample - (1 - alpha).sqrt() * tensors["noise_pred"]
        if pipe.scheduler.config.clip_sample:
            x0 = x0.clamp(-pipe.scheduler.config.clip_sample_range, pipe.scheduler.config.clip_sample_range)
        torch.testing.assert_close(tensors["pred_original_sample"], x0, rtol=1e-4, atol=1e-5)
        sample = tensors["latents"]  # where the next step starts
    with pytest.raises(ValueError, match="The callback can receive only"):
        run(pipe, class_labels=1, callback_on_step_end=lambda *a: a[-1], callback_on_step_end_tensor_inputs=["x"])


def test_save_and_load_give_the_same_images(tmp_path):
    pipe = pipeline(guidance_scale=2.5)
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_ddpm", "DdpmPipeline"]
    assert index["unet"] == ["diffusers", "UNet2DModel"] and index["guidance_scale"] == 2.5
    assert (tmp_path / "pipeline_ddpm.py").is_file()
    loaded = DiffusionPipeline.from_pretrained(tmp_path, trust_remote_code=True)
    assert loaded.config.guidance_scale == 2.5 and loaded.config.image_size == 28
    assert torch.equal(run(pipe, class_labels=[0, 1, 2]), run(loaded, class_labels=[0, 1, 2]))


def test_saved_pipeline_loads_without_hfnets(tmp_path):
    pipe = pipeline(guidance_scale=2.0)
    pipe.save_pretrained(tmp_path / "mnist-ddpm")
    expected = run(pipe, seed=3, class_labels=[4, 9]).numpy()
    result = run_without_hfnets(
        """
        import json, torch
        from diffusers import DiffusionPipeline, DPMSolverMultistepScheduler

        pipe = DiffusionPipeline.from_pretrained("mnist-ddpm", trust_remote_code=True)
        images = pipe(class_labels=[4, 9], num_inference_steps=4, generator=torch.manual_seed(3), output_type="pt")
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
        fast = pipe(class_labels=[4, 9], num_inference_steps=3, output_type="np").images
        print(json.dumps({"images": images.images.tolist(), "class": type(pipe).__name__, "fast": fast.shape}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["class"] == "DdpmPipeline" and output["fast"] == [2, 28, 28, 1]
    assert np.allclose(np.array(output["images"]), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_labels": 10}, r"must lie in \[0, 10\)"),
        ({"class_labels": [-1, 2]}, r"must lie in \[0, 10\)"),
        ({"class_labels": []}, "`class_labels` is empty"),
        ({"batch_size": 0}, r"`batch_size` must be an integer in \[1, 1024\], got 0"),
        ({"batch_size": 0, "class_labels": 3}, r"`batch_size` must be an integer in \[1, 1024\], got 0"),
        ({"batch_size": 10**6}, r"`batch_size` must be an integer in \[1, 1024\], got 1000000"),
        (
            {"class_labels": [1] * 1025},
            r"`batch_size \(the number of class labels\)` must be an integer in \[1, 1024\]",
        ),
        ({"batch_size": 2.0}, "`batch_size` must be an integer"),
        ({"batch_size": 3, "class_labels": [1, 2]}, "Got 2 class labels for batch_size=3"),
        ({"class_labels": 3.7}, r"`class_labels` must be integers, got 3.7"),
        ({"class_labels": [True, False]}, "`class_labels` must be integers"),
        ({"class_labels": "3"}, "`class_labels` must be integers"),
        ({"class_labels": 1, "num_inference_steps": 0}, r"`num_inference_steps` must be an integer in \[1, 1000\]"),
        ({"class_labels": 1, "num_inference_steps": 1001}, r"`num_inference_steps` must be an integer in \[1, 1000\]"),
        ({"class_labels": 1, "num_inference_steps": 2.5}, "`num_inference_steps` must be an integer"),
        ({"class_labels": 1, "guidance_scale": 0.5}, "`guidance_scale` must be >= 1"),
        ({"class_labels": 1, "guidance_scale": float("inf")}, "`guidance_scale` must be a finite number"),
        ({"class_labels": 1, "guidance_scale": float("nan")}, "`guidance_scale` must be a finite number"),
        ({"class_labels": 1, "guidance_scale": "2"}, "`guidance_scale` must be a number"),
        ({"class_labels": 1, "output_type": "latents"}, "`output_type` must be one of"),
        ({"class_labels": 1, "latents": torch.zeros(1, 1, 32, 32)}, r"`latents` must have shape \(1, 1, 28, 28\)"),
        ({"class_labels": 1, "latents": torch.full((1, 1, 28, 28), float("nan"))}, "`latents` holds NaN or infinite"),
        ({"class_labels": 1, "callback_on_step_end_tensor_inputs": ["noise"]}, "can receive only"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline()(**kwargs)


def test_unconditional_unet_refuses_class_labels_and_guidance():
    pipe = pipeline(num_classes=None)
    assert pipe.num_classes == 0 and run(pipe, batch_size=2).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="unconditional \\(no class embedding\\)"):
        pipe(class_labels=3)
    with pytest.raises(ValueError, match="guidance has no meaning"):
        pipe(batch_size=1, guidance_scale=2.0)


def test_resolutions_the_unet_cannot_take_are_refused():
    unet = tiny_unet(levels=3, sample_size=32)
    check_resolution(unet, 32)
    with pytest.raises(ValueError, match="multiple of 4, got 30: pad the images \\(e.g. to 32\\)"):
        check_resolution(unet, 30)
    with pytest.raises(ValueError, match="`image_size` must lie in"):
        DdpmPipeline(unet, DDPMScheduler(), image_size=40)


def test_numpy_integers_are_class_labels_and_batch_sizes():
    expected = run(pipeline(), class_labels=[2, 2])
    torch.testing.assert_close(run(pipeline(), class_labels=np.int64(2), batch_size=np.int64(2)), expected)
    torch.testing.assert_close(run(pipeline(), class_labels=np.array([2, 2])), expected)


def test_the_batch_size_limit_can_be_raised():
    pipe = pipeline()
    pipe.max_batch_size = 2
    with pytest.raises(ValueError, match=r"in \[1, 2\], got 3"):
        pipe(batch_size=3, num_inference_steps=1)
    pipe.max_batch_size = 3
    assert run(pipe, batch_size=3, num_inference_steps=1).shape == (3, 1, 28, 28)


def test_latent_output_is_the_uncropped_sample_in_the_models_range():
    pipe = pipeline(image_size=24)
    output = pipe(class_labels=[1, 2], num_inference_steps=4, generator=torch.manual_seed(0), output_type="latent")
    images = run(pipeline(image_size=24), class_labels=[1, 2])
    assert output.images.shape == (2, 1, 28, 28) and images.shape == (2, 1, 24, 24)
    torch.testing.assert_close((pipe.crop(output.images) / 2 + 0.5).clamp(0, 1), images)


def test_a_callback_can_turn_guidance_off_for_the_last_steps():
    pipe = pipeline()
    batches = []
    pipe.unet.register_forward_pre_hook(lambda module, args: batches.append(len(args[0])))

    def cutoff(pipe, step, timestep, callback_kwargs):
        assert pipe.guidance_scale == (3.0 if step < 2 else 1.0) and pipe.num_timesteps == 4
        if step == 1:
            pipe._guidance_scale = 1.0
        return callback_kwargs

    pipe(class_labels=[1, 2], guidance_scale=3.0, num_inference_steps=4, callback_on_step_end=cutoff)
    assert batches == [4, 4, 2, 2]  # guided steps run both halves in one batch; unguided ones only the classes


def test_the_pipeline_class_loads_its_own_folder_without_remote_code(tmp_path):
    pipe = pipeline(guidance_scale=2.0)
    pipe.save_pretrained(tmp_path)
    loaded = DdpmPipeline.from_pretrained(tmp_path)  # hfnets is here: no code from the folder is run
    assert type(loaded) is DdpmPipeline and loaded.config.guidance_scale == 2.0
    torch.testing.assert_close(run(loaded, class_labels=[3]), run(pipe, class_labels=[3]))
    with pytest.raises(ValueError, match="trust_remote_code"):
        DiffusionPipeline.from_pretrained(tmp_path)  # the stock loader still asks before running the folder's code
