"""Fréchet distance between two sets of images in a judge's feature space (FID with the judge for Inception)."""

import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from .judge import JudgeFeatures


def frechet_distance(
    real_images: torch.Tensor, generated_images: torch.Tensor, judge: JudgeFeatures, batch_size: int = 1000
) -> float:
    """Fréchet distance ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between the judge's features of two
    image sets, each (N, C, H, W) with values in [0, 1]. Lower is closer; identical sets give 0."""
    for name, images in (("real_images", real_images), ("generated_images", generated_images)):
        if images.dim() != 4 or len(images) < 2:
            raise ValueError(f"`{name}` must be a batch (N >= 2, C, H, W) of images, got {tuple(images.shape)}.")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"`{name}` must hold values in [0, 1]; convert from [-1, 1] with (x + 1) / 2.")
    metric = FrechetInceptionDistance(feature=judge, normalize=True, input_img_size=judge.image_shape)
    metric = metric.to(real_images.device)
    for images, real in ((real_images, True), (generated_images, False)):
        for chunk in images.split(batch_size):
            metric.update(chunk, real=real)
    return float(metric.compute().clamp(min=0.0))
