"""A small convolutional MNIST classifier: [conv-ReLU-conv-ReLU-maxpool] x 2 -> FC hidden -> FC logits.

It judges generated digits: its test accuracy says whether a digit is legible, and its hidden layer is the feature
space of the Fréchet distance. This file travels with the weights (`trust_remote_code=True`): it imports only torch,
transformers and its sibling `configuration_cnn.py`.
"""

import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_cnn import MnistCnnConfig


class MnistCnnPreTrainedModel(PreTrainedModel):
    config_class = MnistCnnConfig
    base_model_prefix = "cnn"
    main_input_name = "pixel_values"

    def _init_weights(self, module: nn.Module) -> None:
        # PyTorch's own defaults (Kaiming-uniform weights, uniform bias) suit ReLU networks trained from scratch.
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            fan_in = module.weight[0].numel()
            init.uniform_(module.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))


class MnistCnnForImageClassification(MnistCnnPreTrainedModel):
    r"""
    Small CNN classifier for MNIST-sized images.

    Example:

    ```python
    >>> import torch
    >>> from hfnets import MnistCnnConfig, MnistCnnForImageClassification

    >>> model = MnistCnnForImageClassification(MnistCnnConfig())
    >>> model(torch.randn(2, 1, 28, 28)).logits.shape
    torch.Size([2, 10])
    ```
    """

    def __init__(self, config: MnistCnnConfig):
        super().__init__(config)
        first, second = config.conv_channels

        def block(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(inputs, outputs, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(outputs, outputs, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(block(config.num_channels, first), block(first, second), nn.Flatten())
        self.hidden = nn.Linear(second * (config.image_size // 4) ** 2, config.hidden_size)
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
                Normalized images, as the MNIST image processor returns them.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*): class indices; gives the loss.
            output_hidden_states (`bool`, *optional*): also return the flattened convolution features and the
                hidden layer's activations (the last one is the judge's feature space).
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
        convolved = self.features(pixel_values.to(self.hidden.weight.dtype))  # (batch, c2 * (s/4)^2)
        hidden = torch.relu(self.hidden(self.dropout(convolved)))  # (batch, hidden_size)
        logits = self.classifier(self.dropout(hidden))  # (batch, num_labels)
        loss = self.loss_function(labels, logits, config, **kwargs) if labels is not None else None
        hidden_states = (convolved, hidden) if output_hidden_states else None
        if not return_dict:
            output = (logits,) + ((hidden_states,) if output_hidden_states else ())
            return ((loss,) + output) if loss is not None else output
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)


# save_pretrained copies this file beside the weights, so the folder loads with trust_remote_code=True
MnistCnnForImageClassification.register_for_auto_class("AutoModelForImageClassification")
