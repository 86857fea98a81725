"""Sharing: model cards rendered from `model_cards/` and uploads to the Hugging Face Hub."""

from .cards import render_model_card, save_model_card
from .push import push_folder

__all__ = ["push_folder", "render_model_card", "save_model_card"]
