"""End-to-end runs of scripts/train_mlp.py on real MNIST subsets."""

import json

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from transformers import pipeline

from hfnets import DigitClassificationPipeline, MnistMlpConfig, MnistMlpForImageClassification
from tests.conftest import load_script, run_script
from tests.helpers.drawing import draw_digit
from tests.helpers.interrupt import killed_and_uninterrupted, run_killed_after_checkpoint


def quick_args(mnist_dir, output_dir, *extra) -> list[str]:
    """1,024 training images in 16 batches of 64: 16 optimizer steps per epoch."""
    return [
        "--dataset_name",
        str(mnist_dir),
        "--output_dir",
        str(output_dir),
        "--max_train_samples",
        "1024",
        "--max_eval_samples",
        "512",
        "--per_device_train_batch_size",
        "64",
        "--report_to",
        "none",
        *extra,
    ]


@pytest.fixture
def train_mlp():
    """The script as a module, for in-process runs of `main(argv)`; the Accelerator state is reset after each."""
    yield load_script("train_mlp")
    AcceleratorState._reset_state(True)


def test_full_mnist_run_learns_and_saves_a_complete_model(trained_mlp_dir, mnist_test_arrays):
    results = json.loads((trained_mlp_dir / "all_results.json").read_text())
    assert results["eval_accuracy"] > 0.96  # 3 epochs; the 20-epoch default reaches 98% (see README)
    assert results["train_loss"] < 0.15
    assert results["world_size"] == 1 and results["train_samples"] == 3 * 60000
    assert results["train_samples_per_second"] > 0
    names = {p.name for p in trained_mlp_dir.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "modeling_mlp.py", "README.md"} <= names
    assert (
        "mistakes.png" in names
        and "![Misclassified test images](mistakes.png)" in (trained_mlp_dir / "README.md").read_text()
    )
    assert not [n for n in names if n.startswith(".")], "temporary files left behind"
    assert list((trained_mlp_dir / "runs").rglob("events.out.tfevents.*")), "no tensorboard logs"

    card = ModelCard.load(trained_mlp_dir / "README.md")
    metric = card.data.eval_results[0]
    assert metric.metric_type == "accuracy" and metric.metric_value == round(results["eval_accuracy"], 4)
    assert card.data.datasets == ["ylecun/mnist"] and card.data.pipeline_tag == "image-classification"
    assert "{{" not in card.text and "trust_remote_code=True" in card.text

    images, labels = mnist_test_arrays
    # hfnets' own pipeline class, without running the folder's code
    classifier = pipeline(
        "image-classification",
        model=str(trained_mlp_dir),
        pipeline_class=DigitClassificationPipeline,
        trust_remote_code=False,
    )
    predictions = classifier([img for img in images[:100]], top_k=1)
    accuracy = np.mean([int(p[0]["label"]) == label for p, label in zip(predictions, labels[:100])])
    assert accuracy > 0.9


def test_hand_drawn_digits_on_a_large_canvas_are_recognized(trained_mlp_dir):
    # the folder names its pipeline class in config.json: transparent PIL drawings reach the processor intact
    classifier = pipeline("image-classification", model=str(trained_mlp_dir), trust_remote_code=True)
    assert type(classifier).__name__ == "DigitClassificationPipeline"
    drawings = [draw_digit(d, width=w, offset=(60, 40), scale=0.7) for d in range(10) for w in (6, 16)]
    predicted = [int(p[0]["label"]) for p in classifier(drawings, top_k=1)]
    expected = [d for d in range(10) for _ in (6, 16)]
    assert sum(p == e for p, e in zip(predicted, expected)) >= 18, list(zip(expected, predicted))


def test_interrupted_run_resumes_to_the_same_weights(train_mlp, mnist_dir, tmp_path):
    # 2 epochs of 16 steps with dropout (so RNG state matters); checkpoints every 5 steps; killed after step 20.
    extra = ["--num_train_epochs", "2", "--dropout", "0.2", "--checkpointing_steps", "5"]
    train_mlp.main(quick_args(mnist_dir, tmp_path / "reference", *extra))

    interrupted_dir = tmp_path / "interrupted"
    killed = run_killed_after_checkpoint("train_mlp.py", quick_args(mnist_dir, interrupted_dir, *extra), step=20)
    assert killed.returncode != 0 and "simulated kill" in killed.stderr
    assert (interrupted_dir / "checkpoint-20").is_dir() and not (interrupted_dir / "model.safetensors").exists()

    resumed = run_script(
        ["scripts/train_mlp.py", *quick_args(mnist_dir, interrupted_dir, *extra, "--resume_from_checkpoint", "latest")]
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from checkpoint" in resumed.stderr and "checkpoint-20" in resumed.stderr
    expected = load_file(tmp_path / "reference" / "model.safetensors")
    actual = load_file(interrupted_dir / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    results = json.loads((interrupted_dir / "all_results.json").read_text())
    assert results["step"] == 32
    # The card reports the whole run: the training time before the kill counts, and its command starts from scratch.
    before_kill = json.loads((interrupted_dir / "checkpoint-20" / "training_state.json").read_text())["train_runtime"]
    assert 0 < before_kill < results["train_runtime"]
    card = (interrupted_dir / "README.md").read_text()
    assert "accelerate launch scripts/train_mlp.py" in card and "--resume_from_checkpoint" not in card


@pytest.mark.slow
@pytest.mark.parametrize("memory_budget", ["auto", "0"], ids=["in-memory", "decoded-per-batch"])
def test_kill_9_at_random_moments_resumes_to_the_same_weights(mnist_dir, tmp_path, memory_budget):
    def args_for(folder):
        return quick_args(
            mnist_dir,
            folder,
            "--num_train_epochs",
            "2",
            "--dropout",
            "0.2",
            "--checkpointing_steps",
            "5",
            "--memory_budget",
            memory_budget,
        )

    reference, killed = killed_and_uninterrupted("train_mlp.py", args_for, tmp_path, kills=3)
    expected, actual = load_file(reference / "model.safetensors"), load_file(killed / "model.safetensors")
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


def test_bf16_mixed_precision_and_gradient_accumulation(train_mlp, mnist_dir, tmp_path):
    results = train_mlp.main(
        quick_args(
            mnist_dir,
            tmp_path / "bf16",
            "--mixed_precision",
            "bf16",
            "--gradient_accumulation_steps",
            "2",
            "--num_train_epochs",
            "1",
        )
    )
    assert results["mixed_precision"] == "bf16" and results["step"] == 8
    model = MnistMlpForImageClassification.from_pretrained(tmp_path / "bf16")
    assert model.dtype == torch.float32  # master weights stay fp32 under autocast


def test_output_dir_holding_another_model_is_refused(train_mlp, mnist_dir, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(
        ValueError, match="already holds a different model \\('gpt2'; this script trains 'hfnets-mnist-mlp'"
    ):
        train_mlp.main(quick_args(mnist_dir, tmp_path, "--max_train_steps", "1"))
    assert json.loads((tmp_path / "config.json").read_text()) == {"model_type": "gpt2"}


def test_earlier_checkpoints_need_resume_or_overwrite(train_mlp, mnist_dir, tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    with pytest.raises(ValueError, match="holds checkpoints of an earlier run \\(checkpoint-4\\)"):
        train_mlp.main(quick_args(mnist_dir, tmp_path, "--max_train_steps", "1"))


def test_corrupt_checkpoint_is_reported_on_resume(train_mlp, mnist_dir, tmp_path):
    train_mlp.main(quick_args(mnist_dir, tmp_path, "--max_train_steps", "2", "--checkpointing_steps", "2"))
    AcceleratorState._reset_state(True)
    weights = tmp_path / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:64])
    with pytest.raises(ValueError, match="Could not restore checkpoint .*checkpoint-2"):
        train_mlp.main(quick_args(mnist_dir, tmp_path, "--max_train_steps", "4", "--resume_from_checkpoint", "latest"))


def test_a_run_that_diverges_says_so_and_saves_no_model(train_mlp, mnist_dir, tmp_path):
    """A learning rate far too large (but finite) blows the weights up to NaN: the run stops with the reason and
    leaves no model (nor card or results) behind, where it used to exit 0 with a NaN model."""
    output_dir = tmp_path / "out"
    with pytest.raises(ValueError, match="Training diverged: after 3 steps the weights hold NaN or infinite values"):
        train_mlp.main(quick_args(mnist_dir, output_dir, "--learning_rate", "1e30", "--max_train_steps", "3"))
    assert not any(output_dir.glob("*.safetensors")) and not (output_dir / "all_results.json").exists()


def test_a_diverged_run_writes_no_checkpoint_to_resume_from(train_mlp, mnist_dir, tmp_path):
    output_dir = tmp_path / "out"
    flags = ["--learning_rate", "1e30", "--max_train_steps", "4", "--checkpointing_steps", "2"]
    with pytest.raises(ValueError, match="Training diverged: after 2 steps"):
        train_mlp.main(quick_args(mnist_dir, output_dir, *flags))
    assert not list(output_dir.glob("checkpoint-*"))


def test_model_with_other_labels_is_a_clear_error(train_mlp, mnist_dir, tmp_path):
    MnistMlpForImageClassification(MnistMlpConfig(num_labels=3)).save_pretrained(tmp_path / "three-classes")
    with pytest.raises(ValueError, match=r"training labels span \[0, 9\] but the model has num_labels=3"):
        train_mlp.main(
            quick_args(mnist_dir, tmp_path / "out", "--model_name_or_path", str(tmp_path / "three-classes"))
        )


def test_a_model_that_is_not_a_digit_classifier_is_refused(train_mlp, mnist_dir, tmp_path):
    from hfnets import CharGptConfig, CharGptForCausalLM

    CharGptForCausalLM(CharGptConfig(vocab_size=10, n_layer=1, n_head=2, n_embd=16)).save_pretrained(tmp_path / "gpt")
    with pytest.raises(
        ValueError, match="holds a 'hfnets-char-gpt' model; this script trains the MNIST multilayer perceptron"
    ):
        train_mlp.main(quick_args(mnist_dir, tmp_path / "out", "--model_name_or_path", str(tmp_path / "gpt")))


def test_an_mlp_trained_over_a_gan_folder_with_overwrite_replaces_it_whole(train_mlp, mnist_dir, tmp_path):
    from hfnets import GanGenerator, GanPipeline

    GanPipeline(GanGenerator(latent_dim=8, base_channels=4)).save_pretrained(tmp_path / "out")
    (tmp_path / "out" / "samples").mkdir()
    train_mlp.main(quick_args(mnist_dir, tmp_path / "out", "--max_train_steps", "1", "--overwrite_output_dir"))
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert not names & {"model_index.json", "generator", "pipeline_gan.py", "samples"}
    assert {"config.json", "model.safetensors", "README.md"} <= names


def test_missing_dataset_is_a_clear_error(train_mlp, tmp_path):
    with pytest.raises(ValueError, match="Could not load the dataset"):
        train_mlp.main(["--dataset_name", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path / "out")])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--checkpointing_steps", "often"], "--checkpointing_steps must be a positive integer or 'epoch'"),
        (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be >= 1"),
        (["--resume_from_checkpoint", "missing-dir"], "is not a folder"),
        (["--dropout", "1.5"], "--dropout must be in"),
    ],
)
def test_bad_flags_are_usage_errors(train_mlp, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        train_mlp.parse_args(["--output_dir", str(tmp_path), *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_script_runs_as_a_plain_python_program_with_help():
    result = run_script(["scripts/train_mlp.py", "--help"])
    assert result.returncode == 0 and "--resume_from_checkpoint" in result.stdout


def test_a_streamed_dataset_trains_in_order_and_resumes_where_it_stopped(tmp_path):
    """--streaming: the training examples are read in their order as training goes, the evaluation split's first
    --max_eval_samples in memory; a checkpoint holds the position in the stream, and an interrupted run resumes
    from it to the uninterrupted weights."""
    from tests.conftest import run_in_process
    from tests.helpers.datasets import make_image_dataset
    from tests.helpers.interrupt import interrupt_in_process

    digits = make_image_dataset(tmp_path / "digits", num_rows=120, num_classes=10)

    def args(output_dir, *extra):
        return [
            *("--dataset_name", str(digits), "--streaming", "--max_train_steps", "9", "--max_eval_samples", "30"),
            *("--per_device_train_batch_size", "8", "--checkpointing_steps", "3", "--dropout", "0.2"),
            *("--output_dir", str(output_dir), "--report_to", "none", "--mixed_precision", "no"),
            *extra,
        ]

    results = run_in_process("train_mlp.py", args(tmp_path / "reference"))
    assert results["step"] == 9 and results["eval_samples"] == 30
    state = torch.load(tmp_path / "reference" / "checkpoint-6" / "custom_checkpoint_0.pkl", weights_only=False)
    assert "rows" in state  # datasets' own position in the stream
    interrupt_in_process("train_mlp.py", args(tmp_path / "resumed"), 6)
    run_in_process("train_mlp.py", args(tmp_path / "resumed", "--resume_from_checkpoint", "latest"))
    expected = load_file(tmp_path / "reference" / "model.safetensors")
    actual = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(expected[name], actual[name]) for name in expected)


def test_streaming_needs_the_runs_length(train_mlp, tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        train_mlp.parse_args(["--dataset_name", "x", "--streaming", "--output_dir", str(tmp_path)])
    assert error.value.code == 2 and "give the run's length, --max_train_steps" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_of_a_streamed_run_resumes_to_the_same_weights(tmp_path):
    from tests.helpers.datasets import make_image_dataset

    digits = make_image_dataset(tmp_path / "digits", num_rows=600, num_classes=10)

    def args_for(folder):
        return [
            *("--dataset_name", str(digits), "--streaming", "--max_train_steps", "60", "--max_eval_samples", "50"),
            *("--per_device_train_batch_size", "8", "--checkpointing_steps", "5", "--dropout", "0.2"),
            *("--output_dir", str(folder), "--report_to", "none", "--mixed_precision", "no"),
        ]

    reference, killed = killed_and_uninterrupted("train_mlp.py", args_for, tmp_path, kills=3)
    expected, actual = load_file(reference / "model.safetensors"), load_file(killed / "model.safetensors")
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
