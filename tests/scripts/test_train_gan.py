"""End-to-end runs of scripts/train_gan.py and `hfnets evaluate` on a real MNIST subset."""

import json

import pytest
import torch
from accelerate.state import AcceleratorState
from diffusers import DiffusionPipeline

from tests.conftest import load_script, run_in_process, run_script


def run_evaluate(output_dir, judge_dir, mnist_dir, num_samples: int) -> tuple[str, dict]:
    """`hfnets evaluate` in a fresh process: its printed table and the JSON report it writes."""
    result = run_script(
        [
            "-m",
            "hfnets.cli",
            "evaluate",
            str(output_dir),
            "--judge",
            str(judge_dir),
            "--dataset_name",
            str(mnist_dir),
            "--num_samples",
            str(num_samples),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads((output_dir / "eval_results.json").read_text())


@pytest.fixture
def train_gan():
    yield load_script("train_gan")
    AcceleratorState._reset_state(True)


def quick_args(mnist_dir, output_dir, *extra) -> list[str]:
    return [
        "--dataset_name",
        str(mnist_dir),
        "--output_dir",
        str(output_dir),
        "--max_train_samples",
        "512",
        "--per_device_train_batch_size",
        "64",
        "--base_channels",
        "16",
        "--latent_dim",
        "16",
        "--report_to",
        "none",
        *extra,
    ]


def test_short_run_saves_a_loadable_pipeline_discriminator_and_grids(train_gan, mnist_dir, tmp_path):
    output_dir = tmp_path / "gan"
    results = train_gan.main(quick_args(mnist_dir, output_dir, "--num_train_epochs", "2"))
    assert results["step"] == 16 and results["num_classes"] == 10
    assert 0.0 <= results["d_accuracy_on_fakes"] <= 1.0
    assert (output_dir / "samples" / "step-8.png").is_file() and (output_dir / "samples.png").is_file()
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    images = pipe(batch_size=4, class_labels=[0, 1, 2, 3], generator=torch.manual_seed(0), output_type="pt").images
    assert images.shape == (4, 1, 28, 28)
    # the discriminator comes with the pipeline, in training mode no more (its scores do not depend on the call)
    assert not pipe.discriminator.training
    scores = pipe.discriminate(images, class_labels=[0, 1, 2, 3]).scores
    assert scores.shape == (4,) and torch.equal(scores, pipe.discriminate(images, class_labels=[0, 1, 2, 3]).scores)
    # the training history: one grid per epoch, named by the step that ended it, and each epoch's losses
    assert [epoch["step"] for epoch in results["history"]] == [8, 16]
    assert {path.name for path in (output_dir / "samples").iterdir()} == {"step-8.png", "step-16.png"}


@pytest.mark.slow
def test_discriminator_is_fooled_more_as_training_goes_on(train_gan, mnist_dir, tmp_path):
    # 320 steps at the default size: the discriminator first tells every fake apart, then the generator catches up.
    results = train_gan.main(
        [
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(tmp_path / "gan"),
            "--max_train_samples",
            "1024",
            "--num_train_epochs",
            "20",
            "--report_to",
            "none",
        ]
    )
    accuracy = [epoch["d_accuracy_on_fakes"] for epoch in results["history"]]
    assert max(accuracy[:5]) > 0.95
    assert sum(accuracy[-5:]) / 5 < max(accuracy) - 0.05


def test_gradient_accumulation_is_refused(train_gan, mnist_dir, tmp_path):
    with pytest.raises(SystemExit):
        train_gan.parse_args(quick_args(mnist_dir, tmp_path, "--gradient_accumulation_steps", "2"))


def test_evaluate_reports_judge_metrics(train_gan, mnist_dir, shipped_mlp_dir, tmp_path):
    output_dir = tmp_path / "gan"
    train_gan.main(quick_args(mnist_dir, output_dir, "--max_train_steps", "4"))
    stdout, report = run_evaluate(output_dir, shipped_mlp_dir, mnist_dir, num_samples=200)
    assert report["num_samples"] == 200 and 0.0 <= report["conditional_accuracy"] <= 1.0
    assert report["frechet_distance"] > report["frechet_distance_floor"] > 0
    assert sum(report["class_coverage"]["histogram"]) == 200
    assert "conditional_accuracy" in stdout


GAN_PARTS = ("generator/diffusion_pytorch_model.safetensors", "discriminator/diffusion_pytorch_model.safetensors")
RESUME_FLAGS = ["--num_train_epochs", "2", "--checkpointing_steps", "5"]  # 16 steps


def assert_same_gan_weights(expected_dir, actual_dir):
    from safetensors.torch import load_file

    for part in GAN_PARTS:
        expected, actual = load_file(expected_dir / part), load_file(actual_dir / part)
        for name in expected:
            assert torch.equal(expected[name], actual[name]), (actual_dir.name, part, name)


def test_interrupted_run_resumes_to_the_same_weights(train_gan, mnist_dir, tmp_path):
    from tests.helpers.interrupt import interrupt_in_process

    train_gan.main(quick_args(mnist_dir, tmp_path / "reference", *RESUME_FLAGS))
    flags = quick_args(mnist_dir, tmp_path / "resumed", *RESUME_FLAGS)
    interrupt_in_process("train_gan.py", flags, 10)
    run_in_process(
        "train_gan.py",
        quick_args(mnist_dir, tmp_path / "resumed", *RESUME_FLAGS, "--resume_from_checkpoint", "latest"),
    )
    assert_same_gan_weights(tmp_path / "reference", tmp_path / "resumed")


@pytest.mark.slow
def test_kill_9_at_random_moments_resumes_to_the_same_weights(mnist_dir, tmp_path):
    from tests.helpers.interrupt import killed_and_uninterrupted

    def args_for(folder):
        return quick_args(mnist_dir, folder, *RESUME_FLAGS)

    assert_same_gan_weights(*killed_and_uninterrupted("train_gan.py", args_for, tmp_path, kills=2))


def test_unconditional_gan_trains_samples_and_is_evaluated(train_gan, mnist_dir, shipped_mlp_dir, tmp_path):
    output_dir = tmp_path / "gan"
    results = train_gan.main(quick_args(mnist_dir, output_dir, "--unconditional", "--max_train_steps", "4"))
    assert results["num_classes"] == 0
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    assert pipe(batch_size=3, output_type="pt").images.shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="unconditional"):
        pipe(batch_size=1, class_labels=3)
    _, report = run_evaluate(output_dir, shipped_mlp_dir, mnist_dir, num_samples=100)
    assert "conditional_accuracy" not in report and sum(report["class_coverage"]["histogram"]) == 100


def test_resuming_with_another_generator_shape_is_refused_before_loading(train_gan, mnist_dir, tmp_path):
    output_dir = tmp_path / "gan"
    steps = ["--max_train_steps", "2", "--checkpointing_steps", "1", "--max_train_samples", "128"]
    train_gan.main(quick_args(mnist_dir, output_dir, *steps))
    AcceleratorState._reset_state(True)
    resumed = quick_args(mnist_dir, output_dir, *steps, "--resume_from_checkpoint", "latest")
    resumed[resumed.index("--latent_dim") + 1] = "8"
    with pytest.raises(ValueError, match=r"different model configuration \(latent_dim: checkpoint 16 vs now 8\)"):
        train_gan.main(resumed)
