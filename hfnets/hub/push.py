"""Upload a trained model folder to the Hugging Face Hub."""

from pathlib import Path

from huggingface_hub import create_repo, upload_folder

# Training by-products that stay local: resumable checkpoints, tracker logs and temporary files.
LOCAL_ONLY_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "runs/**", ".*", "**/.*"]


def push_folder(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload model trained with hfnets",
) -> str:
    """Create `repo_id` if needed and upload `folder` in one commit (weights, configs, code files, card).

    Returns the URL of the commit.
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file() and not (folder / "model_index.json").is_file():
        raise ValueError(f"{folder} holds no config.json or model_index.json: save a model there before pushing.")
    create_repo(repo_id, token=token, private=private, exist_ok=True)
    commit = upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        token=token,
        commit_message=commit_message,
        ignore_patterns=LOCAL_ONLY_PATTERNS,
    )
    return commit.commit_url


def default_repo_id(hub_model_id: str | None, output_dir: str | Path) -> str:
    """--hub_model_id, else the output folder's name (the Hub prefixes the user's namespace)."""
    return hub_model_id or Path(output_dir).resolve().name
