"""A small convolutional image classifier: [conv-ReLU-conv-ReLU-maxpool] per block -> FC hidden -> FC logits.

It classifies any images (grayscale or RGB, one size, as its image processor makes them). Its MNIST version judges
generated digits: its test accuracy says whether a digit is legible, and its hidden layer is the feature space of the
Fréchet distance. This file travels with the weights (`trust_remote_code=True`): it imports only torch,
transformers and its sibling `configuration_cnn.py`.
"""

import math
import os

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_cnn import CnnConfig


class CnnPreTrainedModel(PreTrainedModel):
    config_class = CnnConfig
    base_model_prefix = "cnn"
    main_input_name = "pixel_values"

    # Copied from hfnets.mlp.modeling_mlp.MnistMlpPreTrainedModel.from_pretrained
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """`PreTrainedModel.from_pretrained`, with clear messages for a folder that is not a whole saved model: one
        without `config.json` (empty, or a save or copy that stopped part-way) or with a damaged weights file."""
        folder = os.path.join(str(pretrained_model_name_or_path), kwargs.get("subfolder") or "").rstrip(os.sep)
        if kwargs.get("config") is None and os.path.isdir(folder) and not os.path.isfile(f"{folder}/config.json"):
            raise OSError(
                f"{folder} holds no config.json, so it is not a saved model (an empty folder, or a save or copy that "
                "stopped part-way?). Pass the folder `save_pretrained` wrote, or a Hub id."
            )
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        except SafetensorError as error:
            raise OSError(
                f"The weights file of {pretrained_model_name_or_path} is corrupt or truncated ({error}). "
                "Save or download the model again (an interrupted copy or download leaves such a file)."
            ) from error

    def _init_weights(self, module: nn.Module) -> None:
        # PyTorch's own defaults (Kaiming-uniform weights, uniform bias) suit ReLU networks trained from scratch.
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                init.uniform_(module.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
        elif isinstance(module, nn.BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class CnnForImageClassification(CnnPreTrainedModel):
    r"""
    Small CNN image classifier.

    Example:

    ```python
    >>> import torch
    >>> from hfnets import CnnConfig, CnnForImageClassification

    >>> config = CnnConfig(image_size=64, num_channels=3, conv_channels=[16, 32, 64], id2label={0: "cat", 1: "dog"})
    >>> CnnForImageClassification(config)(torch.randn(2, 3, 64, 64)).logits.shape
    torch.Size([2, 2])
    ```
    """

    def __init__(self, config: CnnConfig):
        super().__init__(config)
        widths = [config.num_channels, *config.conv_channels]

        def conv(inputs: int, outputs: int) -> list[nn.Module]:
            if config.batch_norm:  # the normalization's shift replaces the convolution's bias
                return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU()]
            return [nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU()]

        def block(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(*conv(inputs, outputs), *conv(outputs, outputs), nn.MaxPool2d(2))

        blocks = [block(inputs, outputs) for inputs, outputs in zip(widths, widths[1:])]
        if config.pooling in ("average", "max"):  # each channel's mean or peak over the map: wherever it is
            pool = nn.AdaptiveAvgPool2d(1) if config.pooling == "average" else nn.AdaptiveMaxPool2d(1)
            self.features = nn.Sequential(*blocks, pool, nn.Flatten())
            features = widths[-1]
        else:  # every position of the last maps has its own weights
            self.features = nn.Sequential(*blocks, nn.Flatten())
            features = widths[-1] * (config.image_size // 2 ** len(config.conv_channels)) ** 2
        self.hidden = nn.Linear(features, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutput | tuple:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_channels, image_size, image_size)`):
                Normalized images, as the model's image processor returns them.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*): class indices; gives the loss.
            output_hidden_states (`bool`, *optional*): also return every convolution block's feature maps, each
                `(batch_size, conv_channels[i], side, side)` after its max-pooling (`side` halves from block to
                block), then the flattened convolution features and the hidden layer's activations (the last one is
                the judge's feature space).
            return_dict (`bool`, *optional*): return an `ImageClassifierOutput` rather than a tuple.
        """
        config = self.config
        expected = (config.num_channels, config.image_size, config.image_size)
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.dim() != 4 or pixel_values.shape[1:] != expected:
            shape = (
                tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values).__name__
            )
            raise ValueError(
                f"`pixel_values` must be a tensor of shape (batch_size, {', '.join(map(str, expected))}), got {shape}."
            )
        return_dict = return_dict if return_dict is not None else config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        )
        convolved, maps = pixel_values.to(self.hidden.weight.dtype), ()
        for layer in self.features:  # the blocks, then the pooling over each map (if any) and the flattening
            convolved = layer(convolved)
            if output_hidden_states and isinstance(layer, nn.Sequential):
                maps += (convolved,)  # (batch, channels, side, side): this block's feature maps
        hidden = torch.relu(self.hidden(self.dropout(convolved)))  # (batch, hidden_size)
        logits = self.classifier(self.dropout(hidden))  # (batch, num_labels)
        loss = self.loss_function(labels, logits, config, **kwargs) if labels is not None else None
        hidden_states = (*maps, convolved, hidden) if output_hidden_states else None
        if not return_dict:
            output = (logits,) + ((hidden_states,) if output_hidden_states else ())
            return ((loss,) + output) if loss is not None else output
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)


# save_pretrained copies this file beside the weights, so the folder loads with trust_remote_code=True
CnnForImageClassification.register_for_auto_class("AutoModelForImageClassification")
