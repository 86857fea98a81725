import json

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import DiffusionPipeline

from hfnets import GanDiscriminator, GanGenerator, GanPipeline
from tests.helpers.isolated import run_without_hfnets


def pipeline(num_classes: int = 10, discriminator: bool = False) -> GanPipeline:
    torch.manual_seed(0)
    generator = GanGenerator(latent_dim=16, num_classes=num_classes, base_channels=8).eval()
    if not discriminator:
        return GanPipeline(generator)
    return GanPipeline(generator, GanDiscriminator(num_classes=num_classes, base_channels=8).eval())


def test_generator_and_discriminator_shapes():
    generator = GanGenerator(latent_dim=16, base_channels=8)
    discriminator = GanDiscriminator(base_channels=8)
    images = generator(torch.randn(5, 16), torch.arange(5)).sample
    assert images.shape == (5, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert discriminator(images, torch.arange(5)).logits.shape == (5,)
    unconditional = GanGenerator(latent_dim=16, num_classes=0, base_channels=8)
    assert unconditional(torch.randn(2, 16)).sample.shape == (2, 1, 28, 28)
    assert GanDiscriminator(num_classes=0, image_size=32, num_channels=3)(torch.zeros(2, 3, 32, 32)).logits.shape == (
        2,
    )


def test_output_types():
    pipe = pipeline()
    pil = pipe(batch_size=2, class_labels=[3, 4]).images
    assert len(pil) == 2 and isinstance(pil[0], PIL.Image.Image) and pil[0].size == (28, 28)
    array = pipe(batch_size=2, class_labels=3, output_type="np").images
    assert array.shape == (2, 28, 28, 1) and array.dtype == np.float32 and 0 <= array.min() <= array.max() <= 1
    tensor = pipe(batch_size=2, class_labels=3, output_type="pt").images
    assert tensor.shape == (2, 1, 28, 28)
    assert isinstance(pipe(class_labels=1, return_dict=False), tuple)


def test_same_seed_same_images_and_classes_differ():
    pipe = pipeline()
    first = pipe(batch_size=4, class_labels=2, generator=torch.manual_seed(7), output_type="pt").images
    again = pipe(batch_size=4, class_labels=2, generator=torch.manual_seed(7), output_type="pt").images
    other_class = pipe(batch_size=4, class_labels=5, generator=torch.manual_seed(7), output_type="pt").images
    assert torch.equal(first, again)
    assert not torch.allclose(first, other_class)


def test_interpolation_runs_from_one_seed_to_the_other():
    pipe = pipeline()
    strip = pipe.interpolate(0, 1, num_images=5, class_labels=3, output_type="pt").images
    start = torch.randn(16, generator=torch.Generator().manual_seed(0))
    assert strip.shape == (5, 1, 28, 28)
    assert torch.allclose(strip[0], pipe(class_labels=3, latents=start[None], output_type="pt").images[0], atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_labels": 10}, r"must lie in \[0, 10\)"),
        ({"class_labels": -1}, r"must lie in \[0, 10\)"),
        ({"batch_size": 0, "class_labels": 1}, r"`batch_size` must be an integer in \[1, 4096\], got 0"),
        ({"batch_size": 10**6, "class_labels": 1}, r"`batch_size` must be an integer in \[1, 4096\], got 1000000"),
        ({"batch_size": 2.0, "class_labels": 1}, "`batch_size` must be an integer"),
        ({"batch_size": 3, "class_labels": [1, 2]}, "Got 2 class labels for batch_size=3"),
        ({"class_labels": 3.7}, r"`class_labels` must be integers, got 3.7"),
        ({"class_labels": []}, "`class_labels` is empty"),
        ({"class_labels": "3"}, "`class_labels` must be integers"),
        ({"class_labels": 1, "output_type": "latent"}, "`output_type` must be one of"),
        ({"class_labels": 1, "latents": torch.zeros(1, 8)}, r"`latents` must have shape \(1, 16\)"),
        ({"class_labels": 1, "latents": torch.full((1, 16), float("nan"))}, "`latents` holds NaN or infinite"),
        ({"class_labels": 1, "latents": torch.full((1, 16), float("inf"))}, "`latents` holds NaN or infinite"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline()(**kwargs)


def test_without_class_labels_each_image_gets_a_random_class_from_the_generator():
    pipe = pipeline()
    images = pipe(batch_size=16, generator=torch.manual_seed(3), output_type="pt").images
    seeded = torch.manual_seed(3)  # the classes are drawn first, then the noise
    labels = torch.randint(0, 10, (16,), generator=seeded)
    expected = pipe(class_labels=labels, latents=torch.randn(16, 16, generator=seeded), output_type="pt").images
    torch.testing.assert_close(images, expected)
    assert len(set(labels.tolist())) > 1
    strip = pipe.interpolate(0, 1, num_images=4, output_type="pt").images
    assert strip.shape == (4, 1, 28, 28)  # one class for the whole strip, chosen by the start seed


def test_unconditional_generator_refuses_class_labels():
    with pytest.raises(ValueError, match="unconditional \\(num_classes=0\\)"):
        pipeline(num_classes=0)(class_labels=3)
    assert len(pipeline(num_classes=0)(batch_size=2).images) == 2


def test_save_and_load_give_the_same_images(tmp_path):
    pipe = pipeline()
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_gan", "GanPipeline"]
    assert index["generator"] == ["modeling_gan", "GanGenerator"]
    assert (tmp_path / "pipeline_gan.py").is_file() and (tmp_path / "generator" / "modeling_gan.py").is_file()
    loaded = DiffusionPipeline.from_pretrained(tmp_path, trust_remote_code=True)
    expected = pipe(batch_size=3, class_labels=[0, 1, 2], generator=torch.manual_seed(1), output_type="pt").images
    actual = loaded(batch_size=3, class_labels=[0, 1, 2], generator=torch.manual_seed(1), output_type="pt").images
    assert torch.equal(expected, actual)


def test_saved_pipeline_loads_without_hfnets(tmp_path):
    pipe = pipeline(discriminator=True)
    pipe.save_pretrained(tmp_path / "mnist-gan")
    assert (tmp_path / "mnist-gan" / "discriminator" / "modeling_gan.py").is_file()
    expected = pipe(batch_size=2, class_labels=[4, 9], generator=torch.manual_seed(3), output_type="np").images
    scores = pipe.discriminate(expected, class_labels=[4, 9]).scores
    result = run_without_hfnets(
        """
        import json, torch
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained("mnist-gan", trust_remote_code=True)
        images = pipe(batch_size=2, class_labels=[4, 9], generator=torch.manual_seed(3), output_type="np").images
        scores = pipe.discriminate(images, class_labels=[4, 9]).scores
        print(json.dumps({"images": images.tolist(), "scores": scores.tolist(), "class": type(pipe).__name__}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["class"] == "GanPipeline"
    assert np.allclose(np.array(output["images"]), expected, atol=1e-6)
    assert np.allclose(output["scores"], scores.numpy(), atol=1e-5)


def test_discriminate_is_the_discriminators_output_on_the_images_scaled_to_its_range():
    pipe = pipeline(discriminator=True)
    images = pipe(class_labels=[0, 3, 7, 7], generator=torch.manual_seed(0), output_type="pt").images  # [0, 1]
    claimed = torch.tensor([0, 3, 7, 1])
    output = pipe.discriminate(images, class_labels=claimed)
    expected = pipe.discriminator(images * 2 - 1, claimed).logits
    assert torch.allclose(output.scores, expected, atol=1e-6) and torch.equal(output.class_labels, claimed)
    # the class matters (projection discriminator): the same image scored as another digit scores differently
    assert not torch.allclose(pipe.discriminate(images, class_labels=5).scores, output.scores)
    # the other output formats are read as the pipeline writes them
    array = images.permute(0, 2, 3, 1).numpy()
    assert torch.allclose(pipe.discriminate(array, class_labels=claimed).scores, output.scores, atol=1e-6)
    pictures = pipe.numpy_to_pil(array)
    quantized = torch.from_numpy(np.stack([np.asarray(p, dtype=np.float32) / 255 for p in pictures]))[:, None]
    expected_pil = pipe.discriminator(quantized * 2 - 1, claimed).logits
    assert torch.allclose(pipe.discriminate(pictures, class_labels=claimed).scores, expected_pil, atol=1e-5)
    # a picture of another size or mode is converted as the model needs it
    big = pictures[0].resize((56, 56)).convert("RGB")
    assert pipe.discriminate(big, class_labels=0).scores.shape == (1,)


def test_a_batch_of_copies_scores_as_each_image_alone():
    pipe = pipeline(discriminator=True)
    image = pipe(class_labels=2, generator=torch.manual_seed(4), output_type="pt").images
    alone = pipe.discriminate(image, class_labels=2).scores
    copies = pipe.discriminate(image.expand(10, -1, -1, -1), class_labels=list(range(10))).scores
    assert torch.allclose(copies[2], alone[0], atol=1e-6)


@pytest.mark.parametrize(
    "images, kwargs, message",
    [
        (torch.rand(2, 1, 28, 28), {}, "class-conditional: pass `class_labels`"),
        (torch.rand(2, 1, 28, 28), {"class_labels": [1, 2, 3]}, "Got 3 class labels for batch_size=2"),
        (torch.rand(2, 1, 28, 28), {"class_labels": 10}, r"must lie in \[0, 10\)"),
        (torch.rand(2, 1, 32, 32), {"class_labels": 1}, r"shape \(batch, 1, 28, 28\), got \(2, 1, 32, 32\)"),
        (torch.rand(2, 1, 28, 28) * 255, {"class_labels": 1}, r"values in \[0, 1\]"),
        (torch.zeros(0, 1, 28, 28), {"class_labels": 1}, "`images` is empty"),
        ("digit.png", {"class_labels": 1}, "must be PIL images, a .* array or a .* tensor, got str"),
    ],
)
def test_bad_discriminate_arguments_are_clear_errors(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline(discriminator=True).discriminate(images, **kwargs)


def test_discriminate_without_a_discriminator_says_how_to_get_one(tmp_path):
    pipe = pipeline()
    with pytest.raises(ValueError, match="has no discriminator"):
        pipe.discriminate(torch.rand(1, 1, 28, 28), class_labels=1)
    pipe.save_pretrained(tmp_path)  # a folder without one still loads, with `discriminator` None
    assert DiffusionPipeline.from_pretrained(tmp_path, trust_remote_code=True).discriminator is None


def test_an_unconditional_discriminator_takes_no_labels():
    torch.manual_seed(0)
    pipe = GanPipeline(GanGenerator(num_classes=0, base_channels=8), GanDiscriminator(num_classes=0, base_channels=8))
    assert pipe.discriminate(torch.rand(3, 1, 28, 28)).class_labels is None
    with pytest.raises(ValueError, match="unconditional"):
        pipe.discriminate(torch.rand(3, 1, 28, 28), class_labels=1)


def test_the_batch_follows_the_class_labels_or_the_latents_when_no_size_is_given():
    pipe = pipeline()
    images = pipe(class_labels=[1, 2, 3], generator=torch.manual_seed(0), output_type="pt").images
    assert images.shape == (3, 1, 28, 28)
    same = pipe(batch_size=3, class_labels=[1, 2, 3], generator=torch.manual_seed(0), output_type="pt").images
    assert torch.equal(images, same)
    latents = torch.randn(4, pipe.generator.config.latent_dim)
    assert pipe(class_labels=5, latents=latents, output_type="pt").images.shape[0] == 4
    assert len(pipe(class_labels=5).images) == 1


def test_numpy_integers_are_class_labels_and_batch_sizes():
    pipe = pipeline()
    expected = pipe(class_labels=[2, 2], generator=torch.manual_seed(0), output_type="pt").images
    same = pipe(class_labels=np.int64(2), batch_size=np.int64(2), generator=torch.manual_seed(0), output_type="pt")
    assert torch.equal(same.images, expected)


def test_the_pipeline_class_loads_its_own_folder_without_remote_code(tmp_path):
    pipe = pipeline()
    pipe.save_pretrained(tmp_path)
    loaded = GanPipeline.from_pretrained(tmp_path)  # hfnets is here: no code from the folder is run
    assert type(loaded) is GanPipeline and type(loaded.generator) is GanGenerator and loaded.discriminator is None
    expected = pipe(class_labels=[0, 7], generator=torch.manual_seed(1), output_type="pt").images
    assert torch.equal(loaded(class_labels=[0, 7], generator=torch.manual_seed(1), output_type="pt").images, expected)
    with pytest.raises(ValueError, match="trust_remote_code"):
        DiffusionPipeline.from_pretrained(tmp_path)  # the stock loader still asks before running the folder's code
    pipeline(discriminator=True).save_pretrained(tmp_path / "with-discriminator")
    assert type(GanPipeline.from_pretrained(tmp_path / "with-discriminator").discriminator) is GanDiscriminator
