"""Push every trained family to a local Hub server and load it back the way users do, with and without hfnets."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from safetensors.torch import load_file, save_file

from hfnets.hub import PushError, push_folder, push_space
from tests.conftest import REPO_ROOT, run_script
from tests.helpers.isolated import run_without_hfnets
from tests.hub.conftest import BOB_TOKEN, READ_TOKEN, USER, WRITE_TOKEN, hfnets_cli, hub_env
from tests.hub.local_hub import validate_yaml

pytestmark = pytest.mark.hub

# Outputs of one model, loaded from `source` (a Hub id or a folder), the way its card says to use it.
OUTPUTS = """
import json
import numpy as np
import torch
from PIL import Image
from diffusers import DiffusionPipeline
from transformers import AutoImageProcessor, AutoModelForCausalLM, AutoModelForImageClassification, AutoTokenizer
from transformers import pipeline

TRUST = {trust}


def outputs(family, source, revision=None):
    kwargs = {{"revision": revision, "trust_remote_code": TRUST}} if revision else {{"trust_remote_code": TRUST}}
    if family in ("mlp", "cnn"):
        digit = Image.fromarray((np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8))
        processor = AutoImageProcessor.from_pretrained(source, **kwargs)
        model = AutoModelForImageClassification.from_pretrained(source, **kwargs)
        # without trust_remote_code, hfnets' own pipeline class stands in for the one config.json names
        mlp = family == "mlp" and not TRUST
        own = {{"pipeline_class": __import__("hfnets").DigitClassificationPipeline}} if mlp else {{}}
        classifier = pipeline("image-classification", model=source, **kwargs, **own)
        with torch.no_grad():
            logits = model(**processor(digit, return_tensors="pt")).logits
        scores = [p["score"] for p in classifier(digit, top_k=10)]
        return [logits.numpy(), np.array(scores)]
    if family in ("gpt", "rnn"):
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        ids = model.generate(**tokenizer("Shall", return_tensors="pt"), max_new_tokens=6, do_sample=False)
        generator = pipeline("text-generation", model=source, **kwargs)
        text = generator("Shall", max_new_tokens=6, do_sample=False)[0]["generated_text"]
        return [ids.numpy(), np.array([text])]
    pipe = DiffusionPipeline.from_pretrained(source, trust_remote_code=True, revision=revision)
    steps = {{"num_inference_steps": 2}} if family == "ddpm" else {{}}
    images = pipe(batch_size=2, class_labels=[0, 1], generator=torch.manual_seed(0), output_type="np", **steps)
    return [images.images]


def same(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


for family, hub_id, folder in {pairs}:
    assert same(outputs(family, hub_id), outputs(family, folder)), f"{{family}}: Hub copy differs from the folder"
    print("same", family)
"""


def push_all(trained_dirs, prefix: str) -> dict[str, str]:
    """Push each family in process (the CLI and the script flag are tested on their own below)."""
    repos = {}
    for family, folder in trained_dirs.items():
        repos[family] = f"{USER}/{prefix}-{family}"
        push_folder(folder, repos[family], token=WRITE_TOKEN)
    return repos


def test_each_family_pushed_loads_from_the_hub_identical_to_its_folder(in_process_hub, trained_dirs, tmp_path):
    repos = push_all(trained_dirs, "tiny")
    for repo_id in repos.values():
        files = set(in_process_hub.head(repo_id).files)
        assert "README.md" in files and not any(f.startswith(("checkpoint-", "runs/")) for f in files), files
        assert any(f.endswith(".safetensors") for f in files) and any(f.endswith(".py") for f in files), files
    assert {"samples.png", "model_index.json", "pipeline_gan.py", "generator/modeling_gan.py"} <= set(
        in_process_hub.head(repos["gan"]).files
    )
    pairs = [(family, repo_id, str(trained_dirs[family])) for family, repo_id in repos.items()]
    code = "import hfnets\n" + OUTPUTS.format(trust=False, pairs=pairs)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**_environ(), **hub_env(in_process_hub, tmp_path, token=None)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.split() == [w for family in repos for w in ("same", family)]


def test_pushed_models_load_where_hfnets_is_not_installed(in_process_hub, trained_dirs, tmp_path):
    repos = push_all(trained_dirs, "remote")
    pairs = [(family, repo_id, str(trained_dirs[family])) for family, repo_id in repos.items()]
    result = run_without_hfnets(
        OUTPUTS.format(trust=True, pairs=pairs), tmp_path, env=hub_env(in_process_hub, tmp_path, token=None)
    )
    assert result.stdout.split() == [w for family in repos for w in ("same", family)]


def test_a_new_push_is_a_new_commit_and_revision_pins_the_old_one(in_process_hub, trained_dirs, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(trained_dirs["mlp"], first)
    shutil.copytree(trained_dirs["mlp"], second)
    weights = load_file(second / "model.safetensors")
    save_file({name: tensor + 0.5 for name, tensor in weights.items()}, second / "model.safetensors", {"format": "pt"})

    repo_id = f"{USER}/versions"
    push_folder(first, repo_id, token=WRITE_TOKEN)
    old = in_process_hub.head(repo_id).sha
    push_folder(second, repo_id, token=WRITE_TOKEN)
    new = in_process_hub.head(repo_id)
    assert new.sha != old and new.parent == old
    assert set(new.files) == set(in_process_hub.repo(repo_id).commits[old].files)  # only the weights changed

    check = OUTPUTS.format(trust=False, pairs=[]) + (
        f"assert same(outputs('mlp', {repo_id!r}, revision={old!r}), outputs('mlp', {str(first)!r}))\n"
        f"assert same(outputs('mlp', {repo_id!r}), outputs('mlp', {str(second)!r}))\n"
        f"assert not same(outputs('mlp', {str(first)!r}), outputs('mlp', {str(second)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import hfnets\n" + check],
        cwd=tmp_path,
        env={**_environ(), **hub_env(in_process_hub, tmp_path, token=None)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_cli_push_to_a_branch_of_a_private_repo(in_process_hub, hub, trained_dirs, tmp_path):
    repo_id = f"{USER}/private-gan"
    args = ["push", str(trained_dirs["gan"]), "--repo-id", repo_id, "--private"]
    result = hfnets_cli([*args, "--revision", "experiment"], hub_env(hub, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    repo = hub.repo(repo_id)
    assert repo.private and set(repo.branches) == {"main", "experiment"}
    assert result.stdout.strip().endswith(repo.branches["experiment"])
    assert "model_index.json" in hub.head(repo_id, branch="experiment").files
    assert "model_index.json" not in hub.head(repo_id).files  # main untouched

    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    def download(token):
        api = HfApi(endpoint=hub.endpoint, token=token)
        cache = tmp_path / f"cache-{token}"  # a cache of its own: a cached copy would hide the refusal
        return api.hf_hub_download(repo_id, "model_index.json", revision="experiment", cache_dir=cache)

    with pytest.raises(RepositoryNotFoundError):
        download(token=False)
    assert json.loads(open(download(READ_TOKEN)).read())["_class_name"] == ["pipeline_gan", "GanPipeline"]
    with pytest.raises(RepositoryNotFoundError):  # another user cannot see it either
        download(BOB_TOKEN)


def test_training_script_pushes_at_the_end_and_checks_the_token_first(hub, tmp_path, trained_dirs):
    digits = trained_dirs["mlp"].parent / "digits"
    args = ["scripts/train_mlp.py", "--dataset_name", str(digits), "--max_train_steps", "1", "--report_to", "none"]
    args += ["--card_dataset_id", "ylecun/mnist", "--push_to_hub", "--hub_model_id", "script-mlp"]
    no_token = run_script([*args, "--output_dir", str(tmp_path / "a")], env=hub_env(hub, tmp_path, token=None))
    assert no_token.returncode != 0 and "No Hugging Face token" in no_token.stderr
    assert not (tmp_path / "a").exists()  # refused before training

    result = run_script([*args, "--output_dir", str(tmp_path / "b")], env=hub_env(hub, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    files = hub.head(f"{USER}/script-mlp").files  # the user's namespace was added to the bare name
    assert {"config.json", "model.safetensors", "README.md", "modeling_mlp.py"} <= set(files)
    assert files["model.safetensors"] == (tmp_path / "b" / "model.safetensors").read_bytes()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("weights", "no weights"),
        ("config", "no config.json"),
        ("placeholder", "unfilled placeholder '{{'"),
        ("card", "no model card"),
        ("code", "modeling_mlp.py is missing"),
    ],
)
def test_an_incomplete_folder_is_refused_before_any_request(in_process_hub, trained_dirs, tmp_path, breakage, message):
    folder = tmp_path / "mlp"
    shutil.copytree(trained_dirs["mlp"], folder)
    if breakage == "weights":
        (folder / "model.safetensors").unlink()
    elif breakage == "config":
        (folder / "config.json").unlink()
    elif breakage == "placeholder":
        card = folder / "README.md"
        card.write_text(card.read_text().replace("## Results", "## Results\n\n{{ eval_accuracy }}"))
    elif breakage == "card":
        (folder / "README.md").unlink()
    else:
        (folder / "modeling_mlp.py").unlink()
    seen = len(in_process_hub.requests)
    with pytest.raises(PushError, match=message):
        push_folder(folder, f"{USER}/broken-{breakage}", token=WRITE_TOKEN)
    assert len(in_process_hub.requests) == seen


def test_token_problems_are_named(in_process_hub, trained_dirs):
    folder = trained_dirs["mlp"]
    with pytest.raises(PushError, match="No Hugging Face token"):
        push_folder(folder, f"{USER}/tokens")
    with pytest.raises(PushError, match="rejected the token"):
        push_folder(folder, f"{USER}/tokens", token="hf_expired")
    with pytest.raises(PushError, match="read-only"):
        push_folder(folder, f"{USER}/tokens", token=READ_TOKEN)
    with pytest.raises(PushError, match="Could not create"):  # bob may not write to alice's namespace
        push_folder(folder, f"{USER}/tokens", token=BOB_TOKEN)
    assert ("model", f"{USER}/tokens") not in in_process_hub.repos


def test_a_failed_upload_leaves_the_repo_at_its_previous_commit(in_process_hub, trained_dirs, tmp_path, monkeypatch):
    import huggingface_hub.utils._http as http

    monkeypatch.setattr(http, "time", SimpleNamespace(sleep=lambda seconds: None))
    repo_id = f"{USER}/interrupted"
    push_folder(trained_dirs["ddpm"], repo_id, token=WRITE_TOKEN)
    before = in_process_hub.head(repo_id)
    changed = tmp_path / "ddpm"
    shutil.copytree(trained_dirs["ddpm"], changed)
    (changed / "samples.png").write_bytes(b"not the same image")
    in_process_hub.fail_next_commits = 100  # the client retries server errors: fail them all
    with pytest.raises(PushError, match=rf"still at commit {before.sha[:8]}.*run the same command again"):
        push_folder(changed, repo_id, token=WRITE_TOKEN)
    in_process_hub.fail_next_commits = 0
    assert in_process_hub.head(repo_id).sha == before.sha
    assert in_process_hub.head(repo_id).files == before.files
    push_folder(changed, repo_id, token=WRITE_TOKEN)  # the retry lands
    assert in_process_hub.head(repo_id).files["samples.png"] == b"not the same image"


def test_cards_of_every_family_pass_the_hub_metadata_check(trained_dirs):
    for family, folder in trained_dirs.items():
        text = (folder / "README.md").read_text()
        assert validate_yaml(text, "model") == [], family
        meta = yaml.safe_load(text.split("---")[1])
        assert meta["library_name"] in ("transformers", "diffusers") and "hfnets" in meta["tags"], family
        assert meta["datasets"] and meta["license"] and meta["pipeline_tag"], family
        if family in ("mlp", "gpt"):  # measured on the evaluation split (GAN and DDPM: with a --judge_model)
            assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] > 0, family
    bad = (trained_dirs["mlp"] / "README.md").read_text().replace("license: apache-2.0", "license: whatever-1.0")
    assert validate_yaml(bad, "model")  # the check is not a rubber stamp


def test_space_push_carries_app_requirements_and_front_matter(in_process_hub, hub, trained_dirs, tmp_path):
    model_id = f"{USER}/space-model"
    push_folder(trained_dirs["mlp"], model_id, token=WRITE_TOKEN)
    space_dir = tmp_path / "mnist-classifier"
    (space_dir / "examples").mkdir(parents=True)
    (space_dir / "app.py").write_text("import os\nMODEL_ID = os.environ.get('MODEL_ID', 'hfnets/mnist-mlp')\n")
    (space_dir / "requirements.txt").write_text("transformers\ntorch\n")
    (space_dir / "examples" / "seven.png").write_bytes(b"png bytes")
    (space_dir / "__pycache__").mkdir()
    (space_dir / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"cache")
    (space_dir / "README.md").write_text("---\ntitle: MNIST digits\nemoji: ✏️\n---\n\nDraw a digit.\n")

    result = hfnets_cli(
        ["space", str(space_dir), "--repo-id", "mnist-demo", "--model-id", model_id], hub_env(hub, tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    space = hub.repo(f"{USER}/mnist-demo", "space")
    files = hub.head(f"{USER}/mnist-demo", "space").files
    assert space.sdk == "gradio" and space.variables == {"MODEL_ID": model_id}
    assert set(files) == {".gitattributes", "README.md", "app.py", "requirements.txt", "examples/seven.png"}
    readme = files["README.md"].decode()
    meta = yaml.safe_load(readme.split("---")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["models"] == [model_id]
    assert meta["title"] == "MNIST digits" and meta["emoji"] == "✏️" and meta["sdk_version"].count(".") == 2
    assert 0 < len(meta["short_description"]) <= 60 and "Draw a digit." in readme
    assert validate_yaml(readme, "space") == []

    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint)
    assert sorted(api.list_repo_files(f"{USER}/mnist-demo", repo_type="space")) == sorted(files)
    snapshot = api.snapshot_download(model_id, cache_dir=tmp_path / "cache")
    pushed = {p.relative_to(snapshot).as_posix(): p.read_bytes() for p in Path(snapshot).rglob("*") if p.is_file()}
    assert pushed == hub.head(model_id).files

    with pytest.raises(PushError, match="push the model first"):
        push_space(space_dir, "mnist-demo", f"{USER}/not-pushed", token=WRITE_TOKEN)
    (space_dir / "app.py").unlink()
    with pytest.raises(PushError, match="app.py is missing"):
        push_space(space_dir, "mnist-demo", model_id, token=WRITE_TOKEN)


def _environ() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "HF_TOKEN"} | {"PYTHONPATH": str(REPO_ROOT)}


def test_the_gallery_space_carries_the_demos_it_shows_and_names_each_model(in_process_hub, trained_dirs, tmp_path):
    families = ("mlp", "cnn", "gan", "ddpm", "gpt", "rnn")
    models = {f"{family.upper()}_MODEL_ID": f"{USER}/gallery-{family}" for family in families}
    for variable, model_id in models.items():
        push_folder(trained_dirs[variable.split("_")[0].lower()], model_id, token=WRITE_TOKEN)
    gallery = REPO_ROOT / "spaces" / "gallery"
    # one bare id would set MODEL_ID, which the gallery does not read: refused before anything is uploaded
    with pytest.raises(PushError, match="does not read the variable MODEL_ID.*GAN_MODEL_ID"):
        push_space(gallery, "gallery", models["MLP_MODEL_ID"], token=WRITE_TOKEN)
    assert ("space", f"{USER}/gallery") not in in_process_hub.repos

    pairs = [item for variable, model_id in models.items() for item in ("--model-id", f"{variable}={model_id}")]
    result = hfnets_cli(["space", str(gallery), "--repo-id", "gallery", *pairs], hub_env(in_process_hub, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    space = in_process_hub.repo(f"{USER}/gallery", "space")
    assert space.variables == models  # each tab loads the model named for it
    files = in_process_hub.head(f"{USER}/gallery", "space").files
    demos = {f"demos/{demo}/app.py" for demo in ("classifier", "gan", "ddpm", "gpt", "rnn", "playground", "gallery")}
    assert {
        "app.py",
        "requirements.txt",
        "README.md",
        "demos/__init__.py",
        "demos/settings.py",
    } | demos <= files.keys()
    assert "from demos.gallery.app import main" in files["app.py"].decode()  # the launcher
    assert any(f.startswith("demos/classifier/examples/") and f.endswith(".png") for f in files)
    assert not any(f.startswith("demos/") and f.endswith(("README.md", "requirements.txt")) for f in files)
    meta = yaml.safe_load(files["README.md"].decode().split("---")[1])
    assert meta["models"] == sorted(models.values())

    twice = ["--model-id", f"GAN_MODEL_ID={USER}/a", "--model-id", f"GAN_MODEL_ID={USER}/b"]
    result = hfnets_cli(["space", str(gallery), "--repo-id", "gallery", *twice], hub_env(in_process_hub, tmp_path))
    assert result.returncode == 1 and "names a Space variable twice" in result.stderr
    with pytest.raises(PushError, match="an upper-case variable the app reads"):
        push_space(gallery, "gallery", {"gan_model_id": f"{USER}/gallery-gan"}, token=WRITE_TOKEN)


def test_the_playground_pushes_a_visitors_network_that_loads_from_the_hub(in_process_hub, shipped_mlp_dir, tmp_path):
    import torch
    from huggingface_hub import HfApi
    from transformers import AutoModelForImageClassification

    from tests.helpers.datasets import make_image_dataset
    from tests.hub.conftest import READ_TOKEN, WRITE_TOKEN
    from tests.spaces.test_apps import load_app

    app = load_app("playground", "handlers")
    playground = load_app("playground", "training").Playground(
        str(shipped_mlp_dir), str(make_image_dataset(tmp_path / "digits", num_classes=10))
    )
    model = playground.new_model([16], "tanh", seed=3)
    url = app.push_model(model, playground.processor, "alice/playground-mlp", WRITE_TOKEN)
    assert "alice/playground-mlp" in url
    folder = HfApi(endpoint=in_process_hub.endpoint).snapshot_download(
        "alice/playground-mlp", cache_dir=tmp_path / "cache"
    )
    loaded = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True)
    assert loaded.config.hidden_sizes == [16] and loaded.config.hidden_act == "tanh"
    for name, weights in model.state_dict().items():
        assert torch.equal(weights, loaded.state_dict()[name]), name
    with pytest.raises(Exception, match="(?i)forbidden|write|permission|403"):  # a read token cannot push
        app.push_model(model, playground.processor, "alice/playground-mlp-2", READ_TOKEN)


def test_the_gan_history_comes_from_the_hub_and_its_absence_is_said(in_process_hub, trained_dirs, tmp_path):
    import shutil

    from huggingface_hub import HfApi

    from tests.spaces.test_apps import load_app

    app = load_app("gan", "inside")
    api = HfApi(token=WRITE_TOKEN)
    repo = api.create_repo("alice/gan-history", exist_ok=True).repo_id
    api.upload_folder(folder_path=str(trained_dirs["gan"]), repo_id=repo)
    epochs, missing = app.training_history(repo)
    local, _ = app.training_history(str(trained_dirs["gan"]))
    assert missing is None and [e["step"] for e in epochs] == [e["step"] for e in local]
    assert [Path(e["grid"]).read_bytes() for e in epochs] == [Path(e["grid"]).read_bytes() for e in local]
    bare = tmp_path / "bare"
    shutil.copytree(trained_dirs["gan"], bare, ignore=shutil.ignore_patterns("all_results.json"))
    assert app.training_history(str(bare)) == (
        [],
        "This model was saved without its training history (`all_results.json`).",
    )
    assert app.training_history("alice/no-such-model")[1].startswith(
        "The model's training history could not be fetched"
    )


def test_hfnets_demo_checks_a_hub_id_before_anything_loads(hub, trained_dirs, tmp_path):
    """`hfnets demo --mlp ID` looks the model up first: a model on the Hub is taken, an unknown one is refused in one
    line (not with a traceback from deep inside the gallery's loading)."""
    env = hub_env(hub, tmp_path)
    pushed = hfnets_cli(["push", str(trained_dirs["mlp"]), "--repo-id", "demo-mlp"], env)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    shown = hfnets_cli(["demo", "--mlp", f"{USER}/demo-mlp", "--no_launch"], env)
    assert shown.returncode == 0 and f"mlp   {USER}/demo-mlp" in shown.stdout, shown.stderr[-2000:]
    refused = hfnets_cli(["demo", "--mlp", f"{USER}/no-such-model", "--no_launch"], env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "no model of that name is on the Hub" in refused.stderr
