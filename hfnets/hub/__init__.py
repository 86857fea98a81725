"""Sharing: model cards rendered from `model_cards/` and uploads of models and Spaces to the Hugging Face Hub."""

from .cards import (
    card_base_model,
    card_data,
    card_dataset_id,
    generation_results,
    render_model_card,
    save_model_card,
    training_command,
)
from .push import (
    PushError,
    check_hub_access,
    check_model_folder,
    default_repo_id,
    export_folder,
    publish_run,
    push_folder,
    push_space,
    run_files,
)

__all__ = [
    "PushError",
    "card_base_model",
    "card_data",
    "card_dataset_id",
    "check_hub_access",
    "check_model_folder",
    "default_repo_id",
    "export_folder",
    "generation_results",
    "push_folder",
    "push_space",
    "publish_run",
    "render_model_card",
    "run_files",
    "save_model_card",
    "training_command",
]
