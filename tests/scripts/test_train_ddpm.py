"""End-to-end runs of scripts/train_ddpm.py on a real MNIST subset and on small made-up datasets."""

import json

import pytest
import torch
from accelerate.state import AcceleratorState
from diffusers import DiffusionPipeline
from PIL import Image

from tests.conftest import load_script, run_in_process, run_script
from tests.helpers.datasets import make_image_dataset


@pytest.fixture
def train_ddpm():
    yield load_script("train_ddpm")
    AcceleratorState._reset_state(True)


def quick_args(dataset_dir, output_dir, *extra) -> list[str]:
    return [
        "--dataset_name",
        str(dataset_dir),
        "--output_dir",
        str(output_dir),
        "--max_train_samples",
        "256",
        "--per_device_train_batch_size",
        "64",
        "--block_out_channels",
        "16,32",
        "--layers_per_block",
        "1",
        "--num_inference_steps",
        "3",
        "--report_to",
        "none",
        *extra,
    ]


def test_short_run_lowers_the_loss_and_saves_a_loadable_pipeline(train_ddpm, mnist_dir, tmp_path):
    output_dir = tmp_path / "ddpm"
    results = train_ddpm.main(
        quick_args(mnist_dir, output_dir, "--max_train_samples", "1024", "--num_train_epochs", "3")
    )
    losses = [epoch["train_loss"] for epoch in results["history"]]
    assert results["step"] == 48 and results["num_classes"] == 10
    assert losses[-1] < 0.6 * losses[0], losses
    assert (output_dir / "samples" / "step-16.png").is_file() and (output_dir / "samples.png").is_file()
    assert Image.open(output_dir / "samples.png").size == (10 * 28, 10 * 28)
    card = (output_dir / "README.md").read_text()
    assert "{{" not in card and "DdpmPipeline" not in card and "label dropout" in card
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    assert type(pipe).__name__ == "DdpmPipeline" and pipe.config.guidance_scale == 1.2
    images = pipe(class_labels=[0, 1], num_inference_steps=2, generator=torch.manual_seed(0), output_type="pt")
    assert images.images.shape == (2, 1, 28, 28)


def test_saved_unet_holds_the_ema_weights(train_ddpm, mnist_dir, tmp_path):
    from safetensors.torch import load_file

    base = quick_args(mnist_dir, tmp_path / "ema", "--max_train_steps", "6")
    train_ddpm.main(base)
    AcceleratorState._reset_state(True)
    train_ddpm.main([*base[:3], str(tmp_path / "raw"), *base[4:], "--ema_decay", "0"])
    ema = load_file(tmp_path / "ema" / "unet" / "diffusion_pytorch_model.safetensors")
    raw = load_file(tmp_path / "raw" / "unet" / "diffusion_pytorch_model.safetensors")
    assert ema.keys() == raw.keys()
    assert any(not torch.equal(ema[name], raw[name]) for name in ema)


RESUME_FLAGS = ["--num_train_epochs", "3", "--checkpointing_steps", "4"]  # 12 steps
EMA_WEIGHTS = "unet/diffusion_pytorch_model.safetensors"  # equal only if the EMA was resumed too


def assert_same_ema(expected_dir, actual_dir):
    from safetensors.torch import load_file

    expected, actual = load_file(expected_dir / EMA_WEIGHTS), load_file(actual_dir / EMA_WEIGHTS)
    for name in expected:
        assert torch.equal(expected[name], actual[name]), (actual_dir.name, name)


def test_interrupted_run_resumes_to_the_same_weights_and_ema(train_ddpm, mnist_dir, tmp_path):
    from tests.helpers.interrupt import interrupt_in_process

    train_ddpm.main(quick_args(mnist_dir, tmp_path / "reference", *RESUME_FLAGS))
    flags = quick_args(mnist_dir, tmp_path / "resumed", *RESUME_FLAGS)
    interrupt_in_process("train_ddpm.py", flags, 8)
    run_in_process(
        "train_ddpm.py",
        quick_args(mnist_dir, tmp_path / "resumed", *RESUME_FLAGS, "--resume_from_checkpoint", "latest"),
    )
    assert_same_ema(tmp_path / "reference", tmp_path / "resumed")


@pytest.mark.slow
def test_kill_9_at_random_moments_resumes_to_the_same_weights_and_ema(mnist_dir, tmp_path):
    from tests.helpers.interrupt import killed_and_uninterrupted

    def args_for(folder):
        return quick_args(mnist_dir, folder, *RESUME_FLAGS)

    assert_same_ema(*killed_and_uninterrupted("train_ddpm.py", args_for, tmp_path, kills=2))


def test_rgb_images_of_another_size_are_padded_for_the_unet_and_cropped_back(train_ddpm, tmp_path):
    dataset = make_image_dataset(tmp_path / "rgb", num_rows=32, size=40, mode="RGB", num_classes=3)
    output_dir = tmp_path / "ddpm"
    results = train_ddpm.main(
        quick_args(
            dataset,
            output_dir,
            "--resolution",
            "18",
            "--num_channels",
            "3",
            "--block_out_channels",
            "8,16,16",
            "--max_train_steps",
            "2",
        )
    )
    assert results["num_classes"] == 3
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    assert pipe.unet.config.sample_size == 20 and pipe.unet.config.in_channels == 3
    images = pipe(class_labels=[0, 2], num_inference_steps=2, output_type="np").images
    assert images.shape == (2, 18, 18, 3)


def test_an_image_folder_trains_with_epsilon_prediction_and_min_snr(train_ddpm, tmp_path):
    for label in ("circle", "square"):
        folder = tmp_path / "shapes" / "train" / label
        folder.mkdir(parents=True)
        for index in range(8):
            Image.new("L", (24, 24), color=40 * index).save(folder / f"{index}.png")
    output_dir = tmp_path / "ddpm"
    results = train_ddpm.main(
        quick_args(
            tmp_path / "shapes",
            output_dir,
            "--resolution",
            "24",
            "--prediction_type",
            "epsilon",
            "--snr_gamma",
            "5",
            "--max_train_steps",
            "2",
        )
    )
    assert results["num_classes"] == 2 and torch.isfinite(torch.tensor(results["train_loss"]))
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    assert pipe.scheduler.config.prediction_type == "epsilon"
    assert pipe(class_labels=1, num_inference_steps=2, output_type="pt").images.shape == (1, 1, 24, 24)


def test_bf16_mixed_precision_trains_on_cpu(train_ddpm, mnist_dir, tmp_path):
    results = train_ddpm.main(
        quick_args(mnist_dir, tmp_path / "ddpm", "--max_train_steps", "3", "--mixed_precision", "bf16")
    )
    assert results["step"] == 3 and torch.isfinite(torch.tensor(results["train_loss"]))


def test_unconditional_model_trains_and_samples_without_labels(train_ddpm, mnist_dir, tmp_path):
    output_dir = tmp_path / "ddpm"
    train_ddpm.main(
        quick_args(mnist_dir, output_dir, "--unconditional", "--guidance_scale", "1", "--max_train_steps", "2")
    )
    pipe = DiffusionPipeline.from_pretrained(output_dir, trust_remote_code=True)
    assert pipe.unet.config.num_class_embeds is None
    assert pipe(batch_size=2, num_inference_steps=2, output_type="pt").images.shape == (2, 1, 28, 28)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--block_out_channels", "32,abc"], "comma-separated integers"),
        (["--block_out_channels", "12,24"], "multiples of 8"),
        (["--attention_levels", "3"], "--attention_levels must be among 0..1"),
        (["--guidance_scale", "0.5"], "--guidance_scale must be >= 1"),
        (["--unconditional"], "1 for an --unconditional model"),
        (["--num_inference_steps", "0"], "--num_inference_steps must lie in"),
        (["--label_dropout", "1"], "--label_dropout must be in"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(train_ddpm, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit):
        train_ddpm.parse_args(quick_args(tmp_path, tmp_path / "out", *extra))
    assert message in capsys.readouterr().err


def test_evaluate_samples_with_the_scheduler_and_steps_asked_for(train_ddpm, mnist_dir, shipped_mlp_dir, tmp_path):
    output_dir = tmp_path / "ddpm"
    train_ddpm.main(quick_args(mnist_dir, output_dir, "--max_train_steps", "2"))
    result = run_script(
        [
            "-m",
            "hfnets.cli",
            "evaluate",
            str(output_dir),
            "--judge",
            str(shipped_mlp_dir),
            "--dataset_name",
            str(mnist_dir),
            "--num_samples",
            "20",
            "--scheduler",
            "dpm",
            "--num_inference_steps",
            "3",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((output_dir / "eval_results.json").read_text())
    assert report["sampler"] == {"scheduler": "DPMSolverMultistepScheduler", "steps": 3, "guidance_scale": 1.2}
    assert report["num_samples"] == 20 and 0.0 <= report["conditional_accuracy"] <= 1.0


def test_resuming_with_another_unet_shape_is_refused_before_loading(train_ddpm, mnist_dir, tmp_path):
    output_dir = tmp_path / "ddpm"
    steps = ["--max_train_steps", "2", "--checkpointing_steps", "1", "--max_train_samples", "128"]
    train_ddpm.main(quick_args(mnist_dir, output_dir, *steps))
    AcceleratorState._reset_state(True)
    resumed = quick_args(mnist_dir, output_dir, *steps, "--resume_from_checkpoint", "latest")
    resumed[resumed.index("--layers_per_block") + 1] = "2"
    with pytest.raises(ValueError, match=r"different model configuration \(layers_per_block: checkpoint 1 vs now 2\)"):
        train_ddpm.main(resumed)
