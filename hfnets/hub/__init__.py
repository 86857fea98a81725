"""Sharing: model cards rendered from `model_cards/` and uploads to the Hugging Face Hub."""

from .cards import card_dataset_id, render_model_card, save_model_card
from .push import default_repo_id, push_folder

__all__ = ["card_dataset_id", "default_repo_id", "push_folder", "render_model_card", "save_model_card"]
