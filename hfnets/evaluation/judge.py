"""A trained classifier as the judge of generated images: its predictions and its last hidden layer's features."""

import torch
from torch import nn


class JudgeFeatures(nn.Module):
    """Wraps an hfnets image classifier so that images in [0, 1] map to the features of its last hidden layer.

    `num_features` tells torchmetrics' `FrechetInceptionDistance` the feature width without a dummy forward pass.

    Args:
        classifier: a model whose `forward(pixel_values, output_hidden_states=True)` returns `hidden_states` and
            `logits`, such as `MnistMlpForImageClassification`.
        image_mean, image_std: the normalization the classifier was trained with (its image processor's): one
            number, or one per channel.
    """

    def __init__(self, classifier: nn.Module, image_mean: float | list[float], image_std: float | list[float]):
        super().__init__()
        self.classifier = classifier.eval()
        # (C, 1, 1): one value per channel, or one for all, broadcast over (batch, C, H, W)
        self.register_buffer("image_mean", torch.as_tensor(image_mean, dtype=torch.float32).reshape(-1, 1, 1))
        self.register_buffer("image_std", torch.as_tensor(image_std, dtype=torch.float32).reshape(-1, 1, 1))
        self.to(classifier.device)
        config = classifier.config
        self.image_shape = (config.num_channels, config.image_size, config.image_size)
        with torch.no_grad():
            probe = torch.zeros(1, *self.image_shape, device=classifier.device, dtype=classifier.dtype)
            self.num_features = int(self._outputs(probe).hidden_states[-1].shape[-1])

    @classmethod
    def from_pretrained(cls, model_name_or_path: str, **kwargs) -> "JudgeFeatures":
        """Load a saved classifier and its image processor's normalization (folder or Hub id)."""
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        classifier = AutoModelForImageClassification.from_pretrained(model_name_or_path, **kwargs)
        processor = AutoImageProcessor.from_pretrained(model_name_or_path, **kwargs)
        return cls(classifier, processor.image_mean, processor.image_std)

    def _outputs(self, images: torch.Tensor):
        if images.dim() != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"The judge takes images of shape (batch, {', '.join(map(str, self.image_shape))}) with values in "
                f"[0, 1], got {tuple(images.shape)}."
            )
        mean, std = self.image_mean.to(self.classifier.dtype), self.image_std.to(self.classifier.dtype)
        pixel_values = (images.to(self.classifier.dtype) - mean) / std
        return self.classifier(pixel_values=pixel_values, output_hidden_states=True)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, C, H, W) images in [0, 1] -> (batch, num_features) features."""
        return self._outputs(images).hidden_states[-1].double()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, C, H, W) images in [0, 1] -> (batch,) predicted class indices."""
        return self._outputs(images).logits.argmax(-1)
