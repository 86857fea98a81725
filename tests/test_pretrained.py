"""The models in `pretrained/`: complete Hub-ready folders that load with stock libraries, and whose cards' metrics
still hold when measured again (the MLP, CNN and GPT on their whole test or validation split)."""

import json
import math
import os
import re
import shlex
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard

from hfnets import cli
from hfnets.hub import check_model_folder
from hfnets.resources import PRETRAINED_MODELS, available_pretrained, pretrained_path
from tests.conftest import REPO_ROOT, load_script
from tests.helpers.isolated import run_without_hfnets

SHIPPED = available_pretrained()
# The quality each shipped model must reach on the full split (measured again below where it takes seconds).
BARS = {"mnist-mlp": 0.986, "mnist-cnn": 0.994, "char-gpt": 1.62, "char-rnn": 1.70}


def shipped(name: str) -> str:
    if name not in SHIPPED:
        pytest.skip(f"{name} is not in pretrained/ in this checkout")
    return pretrained_path(name)


def results(name: str) -> dict:
    return json.loads((REPO_ROOT / "pretrained" / name / "all_results.json").read_text())


def test_the_shipped_folders_are_small_and_only_the_known_models():
    folder = REPO_ROOT / "pretrained"
    if not folder.is_dir():
        pytest.skip("this checkout ships no pretrained/ folder")
    assert {p.name for p in folder.iterdir()} <= set(PRETRAINED_MODELS)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 100 * 2**20, f"pretrained/ holds {size / 2**20:.1f} MB"


@pytest.mark.parametrize("name", list(PRETRAINED_MODELS))
def test_each_shipped_folder_is_complete_with_its_card_and_command(name):
    folder = shipped(name)
    assert check_model_folder(folder) == []  # what `hfnets push` checks: weights, code files, a complete card
    card = ModelCard.load(f"{folder}/README.md")
    assert "accelerate launch scripts/train_" in card.text  # the command that produced it
    assert not any(part.startswith("checkpoint-") or part == "runs" for part in os.listdir(folder))


@pytest.mark.parametrize("name", list(PRETRAINED_MODELS))
def test_each_cards_command_runs_as_written_with_the_scripts_it_names(name):
    """The card's training command parses with today's script, or the card checks out the release that ran it."""
    text = ModelCard.load(f"{shipped(name)}/README.md").text
    command = next(line for line in text.splitlines() if line.startswith("accelerate launch scripts/train_"))
    release = re.search(r"^git checkout (\w+)", text, re.MULTILINE)
    if release:  # the old script, then today's hfnets loading and saving its folder
        assert text.index(release.group(0)) < text.index(command) < text.index("git checkout main")
        return
    script, *argv = shlex.split(command)[2:]
    load_script(Path(script).stem).parse_args(argv)  # an unknown or refused flag exits here


def test_the_shipped_code_files_are_the_packages_current_ones():
    # `trust_remote_code=True` runs the folder's own copy of the code: it must behave as the installed package does.
    package = {path.name: path for path in (REPO_ROOT / "hfnets").glob("*/*.py") if path.name != "__init__.py"}
    stale = [
        f"cp {package[path.name].relative_to(REPO_ROOT)} {path.relative_to(REPO_ROOT)}"
        for path in sorted((REPO_ROOT / "pretrained").rglob("*.py"))
        if path.read_bytes() != package[path.name].read_bytes()
    ]
    assert not stale, "shipped code files differ from the package's; update them:\n" + "\n".join(stale)


def test_every_shipped_folder_loads_with_stock_libraries_without_hfnets(tmp_path):
    if not SHIPPED:
        pytest.skip("this checkout ships no pretrained models")
    from tests.helpers.drawing import draw_digit

    draw_digit(3).save(tmp_path / "three.png")
    result = run_without_hfnets(
        f"""
        import json, torch
        from PIL import Image
        shipped = {json.dumps({name: pretrained_path(name) for name in SHIPPED})}
        out = {{}}
        for name, folder in shipped.items():
            if name in ("mnist-mlp", "mnist-cnn"):
                from transformers import pipeline
                classifier = pipeline("image-classification", model=folder, trust_remote_code=True)
                out[name] = classifier(Image.open("three.png"), top_k=1)[0]["label"]
            elif name in ("char-gpt", "char-rnn"):
                from transformers import AutoModelForCausalLM, AutoTokenizer
                tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
                model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)
                ids = model.generate(**tokenizer("ROMEO:", return_tensors="pt"), max_new_tokens=20, do_sample=False)
                out[name] = tokenizer.decode(ids[0], skip_special_tokens=True)
            else:
                from diffusers import DiffusionPipeline
                pipe = DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)
                steps = {{"num_inference_steps": 2}} if name == "mnist-ddpm" else {{}}
                images = pipe(class_labels=[1, 2], generator=torch.manual_seed(0), output_type="np", **steps).images
                out[name] = list(images.shape)
        print(json.dumps(out))
        """,
        cwd=tmp_path,
        timeout=600,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out) == set(SHIPPED)
    for name in {"mnist-mlp", "mnist-cnn"} & set(SHIPPED):
        assert out[name] == "3", f"{name} read a drawn 3 as {out[name]}"
    for name in {"char-gpt", "char-rnn"} & set(SHIPPED):
        assert out[name].startswith("ROMEO:") and len(out[name]) > len("ROMEO:")
    for name in {"mnist-gan", "mnist-ddpm"} & set(SHIPPED):
        assert out[name] == [2, 28, 28, 1]


# Re-measuring a shipped model's card takes seconds to a minute each: the MLP's runs by default, the rest with -m slow.
@pytest.mark.parametrize("name", ["mnist-mlp", pytest.param("mnist-cnn", marks=pytest.mark.slow)])
def test_the_classifiers_reproduce_their_cards_test_accuracy(name, mnist_dir):
    from datasets import load_dataset
    from transformers import AutoModelForImageClassification

    folder = shipped(name)
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=False).eval()
    test = load_dataset(str(mnist_dir), split="test").with_format("torch")[:]
    pixels = (test["image"].float().div(255).sub(0.1307).div(0.3081)).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        predictions = torch.cat([model(pixel_values=chunk).logits.argmax(-1) for chunk in pixels.split(1000)])
    accuracy = (predictions == test["label"]).float().mean().item()
    assert len(predictions) == 10_000
    assert accuracy == pytest.approx(results(name)["eval_accuracy"], abs=2e-4)  # 2 of 10,000 images
    assert accuracy >= BARS[name]
    card = ModelCard.load(f"{folder}/README.md")
    assert card.data.eval_results[0].metric_value == round(results(name)["eval_accuracy"], 4)


def test_the_gpt_reproduces_its_cards_validation_loss(shakespeare_dir):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = shipped("char-gpt")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    text = load_dataset(str(shakespeare_dir), split="validation")[0]["text"]
    ids = torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"])
    block = model.config.n_positions
    windows = ids[: len(ids) // block * block].view(-1, block)  # every window, as the training script scores them
    with torch.inference_mode():
        losses = [model(input_ids=chunk, labels=chunk).loss.item() * len(chunk) for chunk in windows.split(64)]
    loss = sum(losses) / len(windows)
    card_loss = results("char-gpt")["eval_loss"]
    assert loss == pytest.approx(card_loss, abs=0.01)  # the card's figure was measured under bf16 autocast
    assert loss <= BARS["char-gpt"] and math.exp(card_loss) == pytest.approx(results("char-gpt")["perplexity"])


@pytest.mark.slow
def test_the_gan_draws_the_digits_asked_for(mnist_dir, tmp_path):
    gan, judge = shipped("mnist-gan"), shipped("mnist-cnn")
    report = tmp_path / "report.json"
    assert cli.main(["evaluate", gan, "--judge", judge, "--dataset_name", str(mnist_dir), "--json", str(report)]) == 0
    measured = json.loads(report.read_text())
    assert measured["conditional_accuracy"] >= 0.98


def test_the_gans_discriminator_and_training_history_come_with_it(mnist_dir):
    """The shipped GAN's discriminator tells real digits from noise (its generator's digits it can barely tell apart
    any more: the end of a GAN's training), and the folder keeps each epoch's fixed-noise grid and losses."""
    from datasets import load_dataset
    from diffusers import DiffusionPipeline

    folder = shipped("mnist-gan")
    pipe = DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)
    test = load_dataset(str(mnist_dir), split="test").select(range(256)).with_format("torch")[:]
    real = test["image"].float().div(255).reshape(-1, 1, 28, 28)
    labels = test["label"]
    noise = torch.rand(real.shape, generator=torch.Generator().manual_seed(0))
    real_scores, noise_scores = (pipe.discriminate(x, class_labels=labels).scores for x in (real, noise))
    assert real_scores.mean() > noise_scores.mean() + 2 and (real_scores > noise_scores).float().mean() > 0.95
    history = results("mnist-gan")["history"]
    grids = sorted(Path(folder, "samples").glob("step-*.png"), key=lambda path: int(path.stem.split("-")[1]))
    assert [int(path.stem.split("-")[1]) for path in grids] == [epoch["step"] for epoch in history]
    assert [epoch["epoch"] for epoch in history] == list(range(1, len(history) + 1))


@pytest.mark.slow
def test_the_ddpm_draws_the_digits_asked_for_and_its_card_beats_the_gan(mnist_dir, tmp_path):
    ddpm, judge = shipped("mnist-ddpm"), shipped("mnist-cnn")
    report = tmp_path / "report.json"
    command = ["evaluate", ddpm, "--judge", judge, "--dataset_name", str(mnist_dir)]
    fast = ["--num_samples", "50", "--scheduler", "dpm", "--num_inference_steps", "25", "--json", str(report)]
    assert cli.main([*command, *fast]) == 0
    assert json.loads(report.read_text())["conditional_accuracy"] >= 0.94  # 50 samples: a coarse check
    # The card's own 1,000-sample report: the bars, against the GAN's report under the same judge.
    card, gan = results("mnist-ddpm")["evaluation"], results("mnist-gan")["evaluation"]
    assert card["conditional_accuracy"] >= 0.985
    assert card["frechet_distance"] < gan["frechet_distance"]


@pytest.mark.slow
def test_the_rnn_reproduces_its_cards_validation_loss_and_generates_alike_in_any_batch(shakespeare_dir, tmp_path):
    """With stock transformers and the folder's own code: the whole validation split read as the training script reads
    it (contiguous streams, the state carried along each) gives the card's loss; greedy generation with the cache
    equals generation without it; a left-padded batch generates what each prompt generates alone."""
    folder = shipped("char-rnn")
    result = run_without_hfnets(
        f"""
        import json, torch
        from datasets import load_dataset
        from torch.nn import functional as F
        from transformers import AutoModelForCausalLM, AutoTokenizer
        folder, block = {folder!r}, 64  # the training run's --eval_streams 64 and --block_size 64
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
        text = load_dataset({str(shakespeare_dir)!r}, split="validation")[0]["text"]
        ids = torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"])
        length = len(ids) // 64
        steps = (length - 1) // block
        rows = ids[: 64 * length].view(64, length)[:, : steps * block + 1]
        with torch.inference_mode():
            logits = model(input_ids=rows[:, :-1]).logits  # each stream read whole: the state carried along it
        loss = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten()).item()
        prompts = ["ROMEO:", "JULIET: O Romeo", "To be"]
        greedy = dict(max_new_tokens=40, do_sample=False)
        alone = [model.generate(**tokenizer(p, return_tensors="pt"), **greedy)[0] for p in prompts]
        uncached = [model.generate(**tokenizer(p, return_tensors="pt"), use_cache=False, **greedy)[0] for p in prompts]
        batch = model.generate(**tokenizer(prompts, return_tensors="pt", padding=True), **greedy)
        decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)
        print(json.dumps({{
            "loss": loss,
            "tokens": rows[:, 1:].numel(),
            "alone": [decode(i) for i in alone],
            "uncached": [decode(i) for i in uncached],
            "batch": [decode(i) for i in batch],
        }}))
        """,
        cwd=tmp_path,
        timeout=600,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    card = results("char-rnn")
    assert out["tokens"] == card["eval_tokens"]  # the very characters the training run scored
    assert out["loss"] == pytest.approx(card["eval_loss"], abs=0.01)  # the card's figure was measured under bf16
    assert out["loss"] <= BARS["char-rnn"] and math.exp(card["eval_loss"]) == pytest.approx(card["perplexity"])
    assert out["alone"] == out["uncached"] == out["batch"]
    assert all(text.startswith(prompt) for text, prompt in zip(out["alone"], ["ROMEO:", "JULIET: O Romeo", "To be"]))
