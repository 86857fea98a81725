"""Upload trained model folders and Gradio Space folders to the Hugging Face Hub.

Everything is checked before the first request that changes anything, and each upload is one commit made against
the commit the branch was at (`parent_commit`): the repository moves to the new files all at once or stays where it
was.
"""

import fnmatch
import json
import logging
import re
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, SpaceCard, get_token
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..atomic import json_text, publish_folder, write_json_atomically
from .cards import save_model_card
from .space_files import demo_space_files, demo_variables, is_demo

logger = logging.getLogger(__name__)

# Training by-products that stay local: resumable checkpoints, tracker logs, caches and temporary files.
LOCAL_ONLY_PATTERNS = [
    "checkpoint-*",
    "checkpoint-*/**",
    "runs/**",
    "__pycache__/**",
    "**/__pycache__/**",
    ".*",
    "**/.*",
]
WEIGHT_SUFFIXES = (".safetensors", ".bin")
LIBRARIES = (None, "diffusers", "transformers")
# What a card still holds when a value was never filled in.
PLACEHOLDERS = ("{{", "}}", "[More Information Needed]", "TODO", "FILL ME")
REQUIRED_CARD_METADATA = ("license", "library_name", "pipeline_tag", "tags")
SPACE_REQUIRED_FILES = ("app.py", "requirements.txt")
TOKEN_HELP = "pass --token, set HF_TOKEN, or run `hf auth login`; create a write token at https://huggingface.co/settings/tokens"


class PushError(ValueError):
    """A push that was refused or failed, with what to do about it."""


def _is_local_only(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in LOCAL_ONLY_PATTERNS)


def _uploaded_files(folder: Path) -> list[str]:
    files = (p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file())
    return [f for f in files if not _is_local_only(f)]


def check_model_folder(folder: str | Path) -> list[str]:
    """Everything that keeps `folder` from being a complete, loadable model repository (empty when it is)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    files = set(_uploaded_files(folder))
    problems = []
    if "config.json" in files:
        config = json.loads((folder / "config.json").read_text())
        model_folders = {""}
        code_modules = {ref.split(".")[0] for ref in _auto_map_refs(config.get("auto_map", {}))}
        # a pipeline class of the repository's own (`pipeline(..., trust_remote_code=True)` loads it)
        code_modules |= {task["impl"].split(".")[0] for task in config.get("custom_pipelines", {}).values()}
    elif "model_index.json" in files:
        index = json.loads((folder / "model_index.json").read_text())
        # diffusers models keep their weights next to a config.json in their component's subfolder
        model_folders = {name for name in index if not name.startswith("_") and f"{name}/config.json" in files}
        class_name = index.get("_class_name")
        code_modules = {class_name[0]} if isinstance(class_name, list) else set()
        for name, entry in index.items():
            # a component of the repository's own code: [module, class] with the module in its subfolder
            if not name.startswith("_") and isinstance(entry, list) and entry[0] not in LIBRARIES:
                code_modules.add(f"{name}/{entry[0]}")
    else:
        return [f"{folder} holds no config.json (transformers) or model_index.json (diffusers): nothing to load"]
    for model_folder in sorted(model_folders):
        prefix = f"{model_folder}/" if model_folder else ""
        if not any(
            f.startswith(prefix) and "/" not in f[len(prefix) :] and f.endswith(WEIGHT_SUFFIXES) for f in files
        ):
            problems.append(f"no weights (*.safetensors) in {folder / model_folder}")
    for module in sorted(code_modules):
        if f"{module}.py" not in files:
            problems.append(f"{module}.py is missing: without it the model cannot load where hfnets is not installed")
    problems.extend(check_model_card(folder / "README.md"))
    return problems


def _auto_map_refs(auto_map: dict) -> list[str]:
    refs = []
    for value in auto_map.values():
        for ref in value if isinstance(value, list) else [value]:
            if ref:
                refs.append(ref.split("--")[-1])
    return refs


def check_model_card(path: Path) -> list[str]:
    """A card people can trust: present, every template value filled in, the metadata the Hub lists models by."""
    if not path.is_file():
        return [f"no model card: {path} is missing (the training scripts write it; see model_cards/)"]
    text = path.read_text()
    problems = [f"the model card {path} has an unfilled placeholder {p!r}" for p in PLACEHOLDERS if p in text]
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except ValueError as error:
        return [*problems, f"the model card's metadata is invalid: {error}"]
    missing = [key for key in REQUIRED_CARD_METADATA if not card.data.get(key)]
    if missing:
        problems.append(f"the model card {path} lacks the metadata {', '.join(missing)}")
    return problems


def _authenticated_api(token: str | None) -> tuple[HfApi, str]:
    """An HfApi with a token the Hub accepts for writing, and the token's user name."""
    token = token or get_token()
    if not token:
        raise PushError(f"No Hugging Face token: {TOKEN_HELP}.")
    api = HfApi(token=token)
    try:
        whoami = api.whoami()
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            raise PushError(
                f"The Hub rejected the token (401 Unauthorized: invalid or expired); {TOKEN_HELP}."
            ) from None
        raise PushError(f"Could not reach the Hub at {api.endpoint} to check the token: {error}") from None
    role = whoami.get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise PushError(f"The token is read-only: pushing needs a write token; {TOKEN_HELP}.")
    return api, whoami["name"]


def _full_repo_id(repo_id: str, user: str) -> str:
    if not re.fullmatch(r"([\w.-]+/)?[\w.-]+", repo_id):
        raise PushError(f"Invalid repository id {repo_id!r}: use NAME or USER/NAME (letters, digits, - _ .).")
    return repo_id if "/" in repo_id else f"{user}/{repo_id}"


def _commit_atomically(api: HfApi, repo_id: str, repo_type: str, revision: str | None, commit: callable) -> str:
    """Run `commit(parent_commit)`; on failure say that the branch did not move and what to do."""
    before = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
    try:
        return commit(before)
    except (HfHubHTTPError, OSError, ValueError) as error:  # ValueError: the Hub refused the card metadata
        raise PushError(
            f"Uploading to {repo_id} failed: {error}\nNothing was half-uploaded: {repo_id}"
            f"{'@' + revision if revision else ''} is still at commit {before[:8]}. "
            "Fix the cause above (network, permissions, disk) and run the same command again."
        ) from error


def export_folder(folder: str | Path, destination: str | Path) -> list[str]:
    """Copy what `push_folder` would upload from `folder` into `destination`, a Hub-ready folder of its own.

    `folder` is checked as for a push first. The copy is staged beside `destination` and moved into place whole,
    replacing an earlier one: an interrupted export leaves the old folder or the new one, never a mix.
    Returns the copied files' relative paths.
    """
    folder, destination = Path(folder), Path(destination)
    problems = check_model_folder(folder)
    if problems:
        raise PushError(f"Not exporting {folder}:\n- " + "\n- ".join(problems))
    if destination.resolve() == folder.resolve() or folder.resolve() in destination.resolve().parents:
        raise PushError(f"The destination {destination} must lie outside {folder}.")
    files = _uploaded_files(folder)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.export-"))
    try:
        for relative in files:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / relative, staging / relative)
        publish_folder(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def push_folder(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str = "Upload model trained with hfnets",
) -> str:
    """Check `folder`, create `repo_id` (and branch `revision`) if needed, upload it in one commit; return its URL.

    Uploaded: weights, configs, processor/tokenizer/scheduler files, the code files that load the model without
    hfnets, the model card and its sample images. Checkpoints and logs stay local.
    """
    folder = Path(folder)
    problems = check_model_folder(folder)
    if problems:
        raise PushError(f"Not pushing {folder}:\n- " + "\n- ".join(problems))
    api, user = _authenticated_api(token)
    repo_id = _full_repo_id(repo_id, user)
    try:
        api.create_repo(repo_id, private=private or None, exist_ok=True)
        if revision is not None:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
    except HfHubHTTPError as error:
        raise PushError(f"Could not create {repo_id}{'@' + revision if revision else ''}: {error}") from error

    def commit(parent: str) -> str:
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            commit_message=commit_message,
            ignore_patterns=LOCAL_ONLY_PATTERNS,
            parent_commit=parent,
        )
        return info.commit_url

    return _commit_atomically(api, repo_id, "model", revision, commit)


def check_space_folder(space_dir: str | Path) -> list[str]:
    space_dir = Path(space_dir)
    if not space_dir.is_dir():
        return [f"{space_dir} is not a folder"]
    return [f"{space_dir / name} is missing" for name in SPACE_REQUIRED_FILES if not (space_dir / name).is_file()]


def space_files(space_dir: Path) -> list[tuple[Path | bytes, str]]:
    """(a file, or its bytes, and its path in the Space) for everything the Space carries besides its README: an
    hfnets demo laid out to run alone (`space_files.py`), else the folder's own files."""
    if is_demo(space_dir):
        return demo_space_files(space_dir)
    return [(space_dir / relative, relative) for relative in _uploaded_files(space_dir) if relative != "README.md"]


def space_card(space_dir: Path, model_ids: list[str]) -> SpaceCard:
    """The Space's README: its own text and front matter if it has them, with the fields a Gradio Space needs."""
    readme = space_dir / "README.md"
    card = SpaceCard(readme.read_text()) if readme.is_file() else SpaceCard(f"---\n---\n\n# {space_dir.name}\n")
    data = card.data
    data.title = data.get("title") or space_dir.name
    data.sdk = "gradio"
    data.sdk_version = data.get("sdk_version") or _gradio_version()
    data.app_file = data.get("app_file") or "app.py"
    data.models = model_ids  # the models this Space shows, not the published defaults its folder lists
    data.short_description = (data.get("short_description") or f"hfnets demo of {', '.join(model_ids)}")[:60]
    data.license = data.get("license") or "apache-2.0"
    data.tags = sorted({*(data.get("tags") or []), "hfnets"})
    return card


def space_model_variables(space_dir: Path, models: str | dict[str, str]) -> dict[str, str]:
    """The Space variables that name its models: `models` is one Hub id (the variable MODEL_ID) or a mapping
    {VARIABLE: Hub id} for an app that shows several (the gallery). Each variable must be one the app reads."""
    variables = {"MODEL_ID": models} if isinstance(models, str) else dict(models)
    if not variables:
        raise PushError("Name the model the Space shows: --model-id USER/NAME.")
    if is_demo(space_dir):
        read = demo_variables(space_dir)
    else:
        app = (space_dir / "app.py").read_text()
        read = sorted(set(re.findall(r"\b(?:[A-Z0-9_]*_)?MODEL_ID\b", app)) - {"DEFAULT_MODEL_ID"})
    for variable, model_id in variables.items():
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", variable) or not model_id:
            raise PushError(
                f"Not a Space variable and model: {variable}={model_id}. Use --model-id USER/NAME, or "
                "--model-id VARIABLE=USER/NAME (an upper-case variable the app reads) for each model of the app."
            )
        if variable not in read:
            raise PushError(
                f"The app of {space_dir} does not read the variable {variable}, so the Space would not show "
                f"{model_id}. It reads: {', '.join(read) or 'none'}; pass --model-id VARIABLE=USER/NAME for each."
            )
    return variables


def _gradio_version() -> str:
    try:
        return version("gradio")
    except PackageNotFoundError:
        return "6.31.0"


def push_space(
    space_dir: str | Path,
    repo_id: str,
    models: str | dict[str, str],
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Update the hfnets demo",
) -> str:
    """Create or update the Gradio Space `repo_id` from `space_dir` (app.py, requirements.txt, README front matter)
    showing `models`: one Hub id, which the app reads from the Space variable MODEL_ID, or {VARIABLE: Hub id} for an
    app that shows several (the gallery: MLP_MODEL_ID, GAN_MODEL_ID, ...). Returns the commit URL."""
    space_dir = Path(space_dir)
    problems = check_space_folder(space_dir)
    if problems:
        raise PushError(f"Not pushing the Space {space_dir}:\n- " + "\n- ".join(problems))
    variables = space_model_variables(space_dir, models)
    api, user = _authenticated_api(token)
    repo_id = _full_repo_id(repo_id, user)
    for model_id in variables.values():
        try:
            api.model_info(model_id)
        except RepositoryNotFoundError:
            raise PushError(
                f"The Space would show {model_id}, which is not on the Hub (or not visible with this token): "
                "push the model first with `hfnets push`."
            ) from None
    card = space_card(space_dir, sorted(set(variables.values())))
    operations = [
        CommitOperationAdd(path_in_repo=destination, path_or_fileobj=source)
        for source, destination in space_files(space_dir)
    ]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode()))
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private or None, exist_ok=True)
    except HfHubHTTPError as error:
        raise PushError(f"Could not create the Space {repo_id}: {error}") from error

    def commit(parent: str) -> str:
        info = api.create_commit(
            repo_id, operations, commit_message=commit_message, repo_type="space", parent_commit=parent
        )
        return info.commit_url

    url = _commit_atomically(api, repo_id, "space", None, commit)
    for variable, model_id in variables.items():
        try:
            api.add_space_variable(repo_id, variable, model_id, description="A model this demo loads")
        except HfHubHTTPError as error:
            raise PushError(
                f"The Space {repo_id} was updated, but setting its {variable} variable failed: {error}\n"
                f"Set {variable}={model_id} in the Space's settings, or run the command again."
            ) from error
    return url


def check_hub_access(push_to_hub: bool, token: str | None = None) -> None:
    """Before training with --push_to_hub: fail now, not after the run, when there is no usable token."""
    if push_to_hub:
        _authenticated_api(token)


def publish_run(
    output_dir: str | Path,
    results: dict,
    card: ModelCard,
    push_to_hub: bool = False,
    hub_model_id: str | None = None,
    token: str | None = None,
    private: bool = False,
) -> str | None:
    """The end every training script shares, once the model is saved in `output_dir` (with its card and results,
    `run_files`, in the same swap): `all_results.json` and the model card `README.md` written as they are now (what a
    script measured after the save, such as the GAN's and the DDPM's judge, added), and with `push_to_hub` the upload
    of the folder to `hub_model_id` (default: the folder's name), logged and returned as the commit URL (None without
    an upload)."""
    write_json_atomically(Path(output_dir, "all_results.json"), results)
    save_model_card(card, output_dir)
    if not push_to_hub:
        return None
    repo_id = default_repo_id(hub_model_id, output_dir)
    try:
        url = push_folder(output_dir, repo_id, token=token, private=private)
    except PushError as error:
        raise PushError(
            f"{error}\nThe trained model is saved in {output_dir}; push it later with "
            f"`hfnets push {output_dir} --repo-id {repo_id}`."
        ) from error
    logger.info(f"Pushed to {url}")
    return url


def run_files(results: dict, card: ModelCard) -> dict[str, str]:
    """What a run writes beside its model, as `save_pretrained_atomically(files=...)` takes it: the results
    (`all_results.json`) and the model card (`README.md`)."""
    return {"all_results.json": json_text(results), "README.md": str(card)}


def default_repo_id(hub_model_id: str | None, output_dir: str | Path) -> str:
    """--hub_model_id, else the output folder's name (the Hub prefixes the user's namespace)."""
    return hub_model_id or Path(output_dir).resolve().name
