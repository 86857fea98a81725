"""The GAN's two networks as diffusers models: a DCGAN-style generator and a projection discriminator.

Generator: latent (+ class embedding) -> linear to a (2c, s/4, s/4) map -> two stride-2 transposed convolutions ->
tanh image in [-1, 1]. Discriminator: two stride-2 convolutions with spectral normalization -> a real/fake score,
class-conditional through the projection of Miyato & Koyama 2018 (score += <embed(y), features>).
References: Radford et al. 2016 (DCGAN); Miyato et al. 2018 (spectral normalization); Miyato & Koyama 2018 (cGANs
with projection discriminator).

This file travels with the weights (`trust_remote_code=True`): it imports only torch and diffusers.
"""

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm


@dataclass
class GanGeneratorOutput(BaseOutput):
    """`sample`: generated images (batch, num_channels, image_size, image_size) in [-1, 1]."""

    sample: torch.Tensor


@dataclass
class GanDiscriminatorOutput(BaseOutput):
    """`logits`: one real-vs-fake score per image (batch,); higher means "real"."""

    logits: torch.Tensor


def _check_common(image_size: int, num_channels: int, num_classes: int, base_channels: int) -> None:
    if not isinstance(image_size, int) or image_size < 4 or image_size % 4 != 0:
        raise ValueError(f"`image_size` must be a multiple of 4 (two stride-2 stages), got {image_size!r}.")
    for name, value, low in (
        ("num_channels", num_channels, 1),
        ("num_classes", num_classes, 0),
        ("base_channels", base_channels, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")


def _check_labels(class_labels: torch.Tensor | None, num_classes: int, batch: int) -> None:
    if num_classes == 0:
        if class_labels is not None:
            raise ValueError("This model is unconditional (num_classes=0): do not pass class labels.")
        return
    if class_labels is None:
        raise ValueError(f"This model is class-conditional: pass `class_labels` in [0, {num_classes}).")
    if class_labels.shape != (batch,):
        raise ValueError(f"`class_labels` must have shape ({batch},), got {tuple(class_labels.shape)}.")
    if class_labels.device.type == "cpu" and (class_labels.min() < 0 or class_labels.max() >= num_classes):
        raise ValueError(f"`class_labels` must lie in [0, {num_classes}), got {class_labels.tolist()}.")


class GanGenerator(ModelMixin, ConfigMixin):
    r"""
    DCGAN-style generator of `num_channels x image_size x image_size` images, optionally class-conditional.

    Args:
        latent_dim (`int`, *optional*, defaults to 64): size of the noise vector.
        num_classes (`int`, *optional*, defaults to 10): classes to condition on; 0 for an unconditional model.
        image_size (`int`, *optional*, defaults to 28): output side, a multiple of 4.
        num_channels (`int`, *optional*, defaults to 1): output channels.
        base_channels (`int`, *optional*, defaults to 64): channels of the last hidden stage (the first has twice).
        class_embedding_dim (`int`, *optional*, defaults to 10): size of the learned class code appended to the
            noise; kept small next to `latent_dim` so that the noise, not the class, decides the style.
    """

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 64,
        num_classes: int = 10,
        image_size: int = 28,
        num_channels: int = 1,
        base_channels: int = 64,
        class_embedding_dim: int = 10,
    ):
        super().__init__()
        _check_common(image_size, num_channels, num_classes, base_channels)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be a positive integer, got {latent_dim!r}.")
        self.start = image_size // 4
        self.class_embedding = nn.Embedding(num_classes, class_embedding_dim) if num_classes > 0 else None
        inputs = latent_dim + (class_embedding_dim if num_classes > 0 else 0)  # noise, then the class code
        self.project = nn.Sequential(
            nn.Linear(inputs, 2 * base_channels * self.start * self.start, bias=False),
            nn.BatchNorm1d(2 * base_channels * self.start * self.start),
            nn.ReLU(),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * base_channels, base_channels, 4, stride=2, padding=1, bias=False),  # s/4 -> s/2
            nn.BatchNorm2d(base_channels),
            nn.ReLU(),
            nn.ConvTranspose2d(base_channels, num_channels, 4, stride=2, padding=1),  # s/2 -> s
            nn.Tanh(),
        )

    def forward(
        self, latents: torch.Tensor, class_labels: torch.Tensor | None = None, return_dict: bool = True
    ) -> GanGeneratorOutput | tuple:
        r"""
        Args:
            latents (`torch.Tensor` of shape `(batch, latent_dim)`): standard normal noise.
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): the digit to draw (conditional models).
            return_dict (`bool`, *optional*, defaults to `True`): return a [`GanGeneratorOutput`], not a tuple.
        """
        config = self.config
        if latents.dim() != 2 or latents.shape[1] != config.latent_dim:
            raise ValueError(f"`latents` must have shape (batch, {config.latent_dim}), got {tuple(latents.shape)}.")
        _check_labels(class_labels, config.num_classes, len(latents))
        hidden = latents
        if self.class_embedding is not None:
            hidden = torch.cat([latents, self.class_embedding(class_labels).to(latents.dtype)], dim=1)
        hidden = self.project(hidden).view(len(latents), -1, self.start, self.start)  # (batch, 2c, s/4, s/4)
        sample = self.upsample(hidden)  # (batch, num_channels, s, s)
        return GanGeneratorOutput(sample=sample) if return_dict else (sample,)


class GanDiscriminator(ModelMixin, ConfigMixin):
    r"""
    Convolutional discriminator with spectral normalization and, for class-conditional GANs, a projection term.

    Args:
        num_classes (`int`, *optional*, defaults to 10): classes of the conditional GAN; 0 for unconditional.
        image_size (`int`, *optional*, defaults to 28): input side, a multiple of 4.
        num_channels (`int`, *optional*, defaults to 1): input channels.
        base_channels (`int`, *optional*, defaults to 64): channels of the first stage (the second has twice).
        spectral_norm (`bool`, *optional*, defaults to `True`): spectrally normalize every weight (stable hinge
            training without other regularization).
        minibatch_std (`bool`, *optional*, defaults to `True`): append the batch's feature standard deviation as an
            extra feature map (Karras et al. 2018), so that the discriminator sees when a batch of fakes lacks variety
            and the generator is pushed away from drawing every digit of a class alike.
    """

    @register_to_config
    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 28,
        num_channels: int = 1,
        base_channels: int = 64,
        spectral_norm: bool = True,
        minibatch_std: bool = True,
    ):
        super().__init__()
        _check_common(image_size, num_channels, num_classes, base_channels)

        def norm(module: nn.Module) -> nn.Module:
            return apply_spectral_norm(module) if spectral_norm else module

        features = (2 * base_channels + int(minibatch_std)) * (image_size // 4) ** 2
        self.convolutions = nn.Sequential(
            norm(nn.Conv2d(num_channels, base_channels, 4, stride=2, padding=1)),  # s -> s/2
            nn.LeakyReLU(0.2),
            norm(nn.Conv2d(base_channels, 2 * base_channels, 4, stride=2, padding=1)),  # s/2 -> s/4
            nn.LeakyReLU(0.2),
        )
        self.score = norm(nn.Linear(features, 1))
        self.class_projection = norm(nn.Embedding(num_classes, features)) if num_classes > 0 else None

    def forward(
        self, images: torch.Tensor, class_labels: torch.Tensor | None = None, return_dict: bool = True
    ) -> GanDiscriminatorOutput | tuple:
        r"""
        Args:
            images (`torch.Tensor` of shape `(batch, num_channels, image_size, image_size)`): in [-1, 1].
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): the class each image claims to be.
            return_dict (`bool`, *optional*, defaults to `True`): return a [`GanDiscriminatorOutput`], not a tuple.
        """
        config = self.config
        expected = (config.num_channels, config.image_size, config.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"`images` must have shape (batch, {', '.join(map(str, expected))}), got {tuple(images.shape)}."
            )
        _check_labels(class_labels, config.num_classes, len(images))
        maps = self.convolutions(images)  # (batch, 2c, s/4, s/4)
        if config.minibatch_std:
            # one extra map holding the mean over features of the standard deviation over the batch
            spread = maps.std(dim=0, unbiased=False).mean() if len(maps) > 1 else maps.new_zeros(())
            maps = torch.cat([maps, spread.expand(len(maps), 1, *maps.shape[2:])], dim=1)
        features = maps.flatten(1)  # (batch, (2c + 1) * (s/4)^2)
        logits = self.score(features).squeeze(1)  # (batch,)
        if self.class_projection is not None:
            logits = logits + (self.class_projection(class_labels) * features).sum(dim=1)
        return GanDiscriminatorOutput(logits=logits) if return_dict else (logits,)
