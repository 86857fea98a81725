import json

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import DiffusionPipeline

from hfnets import GanDiscriminator, GanGenerator, GanPipeline
from tests.helpers.isolated import run_without_hfnets


def pipeline(num_classes: int = 10) -> GanPipeline:
    torch.manual_seed(0)
    return GanPipeline(GanGenerator(latent_dim=16, num_classes=num_classes, base_channels=8).eval())


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
    pipe = pipeline()
    pipe.save_pretrained(tmp_path / "mnist-gan")
    expected = pipe(batch_size=2, class_labels=[4, 9], generator=torch.manual_seed(3), output_type="np").images
    result = run_without_hfnets(
        """
        import json, torch
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained("mnist-gan", trust_remote_code=True)
        images = pipe(batch_size=2, class_labels=[4, 9], generator=torch.manual_seed(3), output_type="np").images
        print(json.dumps({"images": images.tolist(), "class": type(pipe).__name__}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["class"] == "GanPipeline"
    assert np.allclose(np.array(output["images"]), expected, atol=1e-6)


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
    assert type(loaded) is GanPipeline and type(loaded.generator) is GanGenerator
    expected = pipe(class_labels=[0, 7], generator=torch.manual_seed(1), output_type="pt").images
    assert torch.equal(loaded(class_labels=[0, 7], generator=torch.manual_seed(1), output_type="pt").images, expected)
    with pytest.raises(ValueError, match="trust_remote_code"):
        DiffusionPipeline.from_pretrained(tmp_path)  # the stock loader still asks before running the folder's code
