import json

import pytest
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hfnets.hub import default_repo_id, render_model_card, save_model_card, training_command
from hfnets.hub.cards import template_path


def card_values() -> dict:
    """Every variable of model_cards/mlp.md, as the training script fills them."""
    return {
        "repo_id": "user/mnist-mlp",
        "architecture": "784-128-10 multilayer perceptron (relu hidden units, softmax output)",
        "dropout": 0.0,
        "num_parameters": "101,770",
        "dataset_id": "ylecun/mnist",
        "eval_split": "test",
        "eval_accuracy": "0.9821",
        "augmentation": "none",
        "mistakes": "It classifies every test image right.",
        "eval_loss": "0.0629",
        "epochs": 20,
        "steps": 4700,
        "batch_size": 256,
        "learning_rate": 0.003,
        "weight_decay": 0.05,
        "lr_scheduler_type": "cosine",
        "seed": 42,
        "mixed_precision": "no",
        "hardware": "1 CPU process",
        "train_runtime": "4.9",
        "command": "accelerate launch scripts/train_mlp.py",
    }


def test_mlp_card_renders_with_hub_metadata(tmp_path):
    data = ModelCardData(
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="image-classification",
        eval_results=[
            EvalResult(
                task_type="image-classification",
                dataset_type="ylecun/mnist",
                dataset_name="ylecun/mnist",
                metric_type="accuracy",
                metric_value=0.9821,
            )
        ],
        model_name="user/mnist-mlp",
    )
    path = save_model_card(render_model_card("mlp", data, **card_values()), tmp_path)
    card = ModelCard.load(path)
    assert card.data.eval_results[0].metric_value == 0.9821
    assert "| test | 0.9821 | 0.0629 |" in card.text and "{{" not in card.text
    assert template_path("mlp").name == "mlp.md"


def test_card_with_a_missing_value_is_refused():
    values = card_values()
    del values["eval_accuracy"]
    with pytest.raises(ValueError, match=r"needs values for \['eval_accuracy'\]"):
        render_model_card("mlp", ModelCardData(), **values)


def test_card_names_a_hub_dataset_not_a_local_path(tmp_path):
    from hfnets.hub import card_dataset_id, default_repo_id

    assert card_dataset_id("ylecun/mnist") == "ylecun/mnist"
    (tmp_path / "mnist").mkdir()
    assert card_dataset_id(str(tmp_path / "mnist")) == "mnist"
    assert card_dataset_id(str(tmp_path / "mnist"), "ylecun/mnist") == "ylecun/mnist"
    assert card_dataset_id(None, None, train_file=str(tmp_path / "poems.txt")) == "poems.txt"
    assert default_repo_id(None, tmp_path / "runs" / "mnist-mlp/") == "mnist-mlp"
    assert default_repo_id("me/digits", tmp_path) == "me/digits"


def test_card_names_the_hub_model_a_run_started_from(tmp_path):
    from hfnets.hub import card_base_model

    assert card_base_model("someone/char-gpt") == "someone/char-gpt"
    assert card_base_model(str(tmp_path)) is None  # a local folder means nothing on the Hub
    assert card_base_model(None) is None


def test_the_usage_snippets_of_every_trained_card_run(trained_dirs, tmp_path):
    """A card's "How to use" code runs as written against the folder it describes (its repo id pointed there)."""
    import re
    import subprocess
    import sys

    from tests.helpers.drawing import draw_digit

    draw_digit(5).save(tmp_path / "digit.png")
    draw_digit(5).convert("RGB").save(tmp_path / "photo.jpg")  # the CNN card's picture
    snippets = []
    for family, folder in trained_dirs.items():
        card = (folder / "README.md").read_text()
        repo_id = default_repo_id(None, folder)
        for code in re.findall(r"```python\n(.*?)```", card, flags=re.DOTALL):
            code = code.replace(f'"{repo_id}"', repr(str(folder)))
            code = code.replace("num_inference_steps=25", "num_inference_steps=2")  # the DDPM's, to keep it short
            snippets.append((family, code))
    assert {family for family, _ in snippets} == set(trained_dirs)
    # One fresh Python for all of them (the imports are paid once), each snippet in a namespace of its own.
    runner = (
        "import json, sys, traceback\n"
        "failures = []\n"
        "for family, code in json.load(sys.stdin):\n"
        "    try:\n"
        "        exec(compile(code, family + ' card', 'exec'), {'__name__': '__main__'})\n"
        "    except BaseException:\n"
        "        failures.append(f'{family} card snippet failed:\\n{code}\\n{traceback.format_exc()[-3000:]}')\n"
        "print(json.dumps(failures))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", runner], input=json.dumps(snippets), cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "argv",
    [
        ["--output_dir", "out", "--resume_from_checkpoint", "latest", "--seed", "1"],
        ["--output_dir", "out", "--resume_from_checkpoint=out/checkpoint-20", "--seed", "1"],
        ["--output_dir", "out", "--seed", "1"],
    ],
)
def test_a_cards_command_trains_from_scratch(argv):
    assert training_command("scripts/train_mlp.py", argv) == (
        "accelerate launch scripts/train_mlp.py --output_dir out --seed 1"
    )


def test_a_cards_command_quotes_what_the_shell_would_split():
    command = training_command("scripts/train_gpt.py", ["--train_file", "my data/input.txt", "--seed", "1"])
    assert command == "accelerate launch scripts/train_gpt.py --train_file 'my data/input.txt' --seed 1"


def test_a_generative_cards_results_table_and_hub_eval_results_hold_the_same_numbers():
    from hfnets.hub import generation_results

    report = {"num_samples": 1000, "conditional_accuracy": 0.98765, "frechet_distance": 63.31, "class_coverage": 1.0}
    table, eval_results = generation_results(report, "ylecun/mnist", "by the judge `pretrained/mnist-cnn`")
    assert "| conditional accuracy (judge's class == requested class) | 0.9877 |" in table
    assert "| Fréchet distance to real test digits (judge features) | 63.3100 |" in table
    assert table.endswith("Measured on 1000 samples by the judge `pretrained/mnist-cnn`.")
    assert {(r.metric_type, r.metric_value) for r in eval_results} == {
        ("conditional_accuracy", 0.9877),
        ("frechet_distance", 63.31),
    }
    empty_table, none = generation_results({}, "ylecun/mnist", "unused")
    assert "not measured" in empty_table and none == []
