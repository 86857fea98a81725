"""End-to-end runs of scripts/train_cnn.py: RGB image folders of mixed-size JPEGs the tests draw themselves (a CNN
tells the shapes apart; the pixel MLP cannot), MNIST-shaped datasets, and the saved model in the stock pipeline."""

import json

import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from PIL import Image

import hfnets  # noqa: F401  (registers the Auto classes)
from tests.conftest import load_script, run_in_process, run_script
from tests.helpers.datasets import make_image_dataset, make_shape_folders
from tests.helpers.isolated import run_without_hfnets


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shape_folders(tmp_path_factory.mktemp("shapes"), per_class=300, validation_per_class=40)


@pytest.fixture
def train_cnn():
    yield load_script("train_cnn")
    AcceleratorState._reset_state(True)


def folder_args(shapes, output_dir, *extra) -> list[str]:
    return [
        *("--train_dir", str(shapes / "train"), "--validation_dir", str(shapes / "validation")),
        *("--output_dir", str(output_dir), "--image_size", "32", "--report_to", "none"),
        *extra,
    ]


@pytest.fixture(scope="module")
def trained_shapes(shapes, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("cnn") / "shapes-cnn"
    flags = ["--num_train_epochs", "10", "--per_device_train_batch_size", "32"]
    results = run_in_process("scripts/train_cnn.py", folder_args(shapes, output_dir, *flags))
    return output_dir, results


def test_an_rgb_image_folder_trains_a_cnn_that_tells_the_shapes_apart(trained_shapes):
    output_dir, results = trained_shapes
    assert results["eval_samples"] == 80 and results["eval_accuracy"] >= 0.9
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "circle", "1": "square"}  # from the folder names
    assert config["num_channels"] == 3 and config["image_size"] == 32 and config["conv_channels"] == [32, 64]
    processor = json.loads((output_dir / "preprocessor_config.json").read_text())
    assert processor["image_processor_type"] == "CnnImageProcessor" and len(processor["image_mean"]) == 3
    card = ModelCard.load(output_dir / "README.md")
    assert card.data.eval_results[0].metric_value == round(results["eval_accuracy"], 4)
    assert "`circle`, `square`" in card.text and "random left-right flips" in card.text and "{{" not in card.text


def test_the_pixel_mlp_cannot_tell_the_same_shapes_apart(trained_shapes, shapes, tmp_path):
    """The seed's point that convolutions suit images, as a number: on the same pictures the 784-128-10 MLP (which
    reads them as 28x28 grayscale pixels) stays near chance where the CNN reads them."""
    _, cnn = trained_shapes
    mlp = run_in_process(
        "scripts/train_mlp.py",
        ["--dataset_name", str(shapes), "--output_dir", str(tmp_path / "mlp"), "--num_train_epochs", "10"]
        + ["--per_device_train_batch_size", "32", "--report_to", "none", "--eval_split", "validation"],
    )
    print(f"\nshapes: CNN {cnn['eval_accuracy']:.3f}, MLP {mlp['eval_accuracy']:.3f}")
    assert mlp["eval_accuracy"] <= 0.75 < cnn["eval_accuracy"]


def test_the_saved_model_classifies_through_the_stock_pipeline_without_hfnets(trained_shapes, shapes, tmp_path):
    output_dir, _ = trained_shapes
    pictures = sorted((shapes / "validation" / "square").glob("*.jpg"))[:5]
    result = run_without_hfnets(
        f"""
        import json
        from transformers import pipeline
        classifier = pipeline("image-classification", model={str(output_dir)!r}, trust_remote_code=True)
        print(json.dumps([classifier(path)[0]["label"] for path in {[str(p) for p in pictures]!r}]))
        """,
        cwd=tmp_path,
    )
    labels = json.loads(result.stdout.strip().splitlines()[-1])
    assert labels.count("square") >= 4


def test_a_training_folder_alone_holds_out_a_tenth_and_the_card_says_so(train_cnn, shapes, tmp_path):
    results = train_cnn.main(
        [
            *("--train_dir", str(shapes / "validation"), "--output_dir", str(tmp_path / "out")),
            *("--image_size", "16", "--num_train_epochs", "1", "--report_to", "none"),
        ]
    )
    assert results["eval_samples"] == 8  # 10% of the 80 pictures
    assert "held-out" in (tmp_path / "out" / "README.md").read_text()


def test_mnist_shaped_data_gets_the_judges_shape_grayscale_and_no_flips(train_cnn, tmp_path):
    digits = make_image_dataset(tmp_path / "digits", num_rows=40, num_classes=10)
    train_cnn.main(
        ["--dataset_name", str(digits), "--output_dir", str(tmp_path / "cnn"), "--max_train_steps", "2"]
        + ["--report_to", "none"]
    )
    config = json.loads((tmp_path / "cnn" / "config.json").read_text())
    assert (config["image_size"], config["num_channels"], config["conv_channels"]) == (28, 1, [32, 64])
    assert "flips" not in (tmp_path / "cnn" / "README.md").read_text()


def test_images_decoded_batch_by_batch_train_and_resume_to_the_in_memory_weights(shapes, tmp_path, caplog):
    """A set over --memory_budget is decoded batch by batch in a DataLoader worker: the same batches as the
    in-memory path, so the same weights and accuracy, and an interrupted run resumes to them too."""
    from safetensors.torch import load_file

    from tests.helpers.interrupt import interrupt_in_process

    flags = ["--image_size", "16", "--num_train_epochs", "2", "--checkpointing_steps", "3"]
    per_batch = [*flags, "--memory_budget", "0", "--dataloader_num_workers", "1"]
    in_memory = run_in_process("scripts/train_cnn.py", folder_args(shapes, tmp_path / "in-memory", *flags))
    with caplog.at_level("INFO"):
        streamed = run_in_process("scripts/train_cnn.py", folder_args(shapes, tmp_path / "per-batch", *per_batch))
    assert "Decoding images batch by batch as they are read" in caplog.text
    interrupt_in_process("train_cnn.py", folder_args(shapes, tmp_path / "resumed", *per_batch), 6)
    resume = ["--resume_from_checkpoint", "latest"]
    run_in_process("train_cnn.py", folder_args(shapes, tmp_path / "resumed", *per_batch, *resume))

    assert streamed["eval_accuracy"] == in_memory["eval_accuracy"] and streamed["eval_loss"] == in_memory["eval_loss"]
    expected = load_file(tmp_path / "in-memory" / "model.safetensors")
    for run in ("per-batch", "resumed"):
        actual = load_file(tmp_path / run / "model.safetensors")
        assert all(torch.equal(expected[name], actual[name]) for name in expected), run
    processors = [
        json.loads((tmp_path / run / "preprocessor_config.json").read_text()) for run in ("in-memory", "per-batch")
    ]
    assert processors[0]["image_mean"] == processors[1]["image_mean"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--train_dir", "photos", "--dataset_name", "ylecun/mnist"],  # both
        ["--validation_dir", "photos"],  # neither
    ],
)
def test_the_data_is_a_dataset_or_a_folder(train_cnn, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        train_cnn.parse_args([*argv, "--output_dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "--dataset_name" in capsys.readouterr().err


def test_a_folder_without_class_subfolders_is_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "flat" / "a.jpg")
    argv = ["--train_dir", str(tmp_path / "flat"), "--output_dir", str(tmp_path / "out")]
    result = run_script(["scripts/train_cnn.py", *argv])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds no images in class subfolders" in result.stderr.strip().splitlines()[-1]
