"""The MNIST multilayer perceptron: flatten -> (Linear -> activation -> dropout) x len(hidden_sizes) -> Linear.

The textbook network: 784 inputs, one hidden layer of 128 ReLU units, 10 outputs whose softmax is the class
distribution. This file travels with the weights (`trust_remote_code=True`): it imports only torch, transformers and
its sibling `configuration_mlp.py`.
"""

import math
import os

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_mlp import MnistMlpConfig


class MnistMlpPreTrainedModel(PreTrainedModel):
    config_class = MnistMlpConfig
    base_model_prefix = "mlp"
    main_input_name = "pixel_values"

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
        # PyTorch's own nn.Linear initialisation (Kaiming-uniform weights, uniform bias) rather than transformers'
        # N(0, 0.02): an MLP trained from scratch converges faster from the fan-in-scaled start.
        if isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)


class MnistMlpForImageClassification(MnistMlpPreTrainedModel):
    r"""
    A multilayer perceptron classifier for small images (MNIST by default), returning the logits of each class.

    Args:
        config ([`MnistMlpConfig`]): the network's sizes, activation, dropout and labels.

    Example:

    ```python
    >>> import torch
    >>> from hfnets import MnistMlpConfig, MnistMlpForImageClassification

    >>> model = MnistMlpForImageClassification(MnistMlpConfig())
    >>> pixel_values = torch.randn(4, 1, 28, 28)
    >>> outputs = model(pixel_values, labels=torch.tensor([0, 1, 2, 3]))
    >>> outputs.logits.shape, outputs.loss.shape
    (torch.Size([4, 10]), torch.Size([]))
    ```
    """

    def __init__(self, config: MnistMlpConfig):
        super().__init__(config)
        sizes = [config.input_size, *config.hidden_sizes]
        self.hidden_layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.activation = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(sizes[-1], config.num_labels)
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
                Normalized images, as [`MnistMlpImageProcessor`] returns them. `(batch_size, image_size, image_size)`
                and flat `(batch_size, num_channels * image_size**2)` inputs are accepted too.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class indices in `[0, num_labels)`. When given, the cross-entropy loss is returned as well.
            output_hidden_states (`bool`, *optional*):
                Also return each hidden layer's activations (after the activation function): `hidden_states[i]` is
                layer `i`'s output, of shape `(batch_size, hidden_sizes[i])`.
            return_dict (`bool`, *optional*):
                Return an [`~transformers.modeling_outputs.ImageClassifierOutput`] rather than a tuple.

        Returns:
            [`~transformers.modeling_outputs.ImageClassifierOutput`]: `logits` of shape `(batch_size, num_labels)`
            (apply `softmax(-1)` for probabilities), `loss` when `labels` are given, and `hidden_states` on request.
        """
        if pixel_values is None:
            raise ValueError("`pixel_values` is required: a tensor of shape (batch_size, channels, height, width).")
        if not isinstance(pixel_values, torch.Tensor):
            raise TypeError(
                f"`pixel_values` must be a torch.Tensor, got {type(pixel_values).__name__}. "
                "Use the image processor to turn images into tensors."
            )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        hidden = self._flatten(pixel_values).to(self.classifier.weight.dtype)  # (batch, input_size)
        all_hidden_states = () if output_hidden_states else None
        for layer in self.hidden_layers:
            hidden = self.dropout(self.activation(layer(hidden)))  # (batch, hidden_size)
            if output_hidden_states:
                all_hidden_states += (hidden,)
        logits = self.classifier(hidden)  # (batch, num_labels)

        # transformers' classification loss: cross-entropy for class indices, and the `config.problem_type`s
        # "regression" and "multi_label_classification" for float targets.
        loss = self.loss_function(labels, logits, self.config, **kwargs) if labels is not None else None

        if not return_dict:
            output = (logits,) + ((all_hidden_states,) if output_hidden_states else ())
            return ((loss,) + output) if loss is not None else output
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=all_hidden_states)

    def _flatten(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(batch, C, H, W), (batch, H, W) or (batch, C*H*W) -> (batch, C*H*W), with a clear error for other shapes."""
        first_layer = self.hidden_layers[0] if len(self.hidden_layers) else self.classifier
        if pixel_values.dim() in (2, 3, 4) and math.prod(pixel_values.shape[1:]) == first_layer.in_features:
            return pixel_values.flatten(1)
        config = self.config
        expected = (config.num_channels, config.image_size, config.image_size)
        raise ValueError(
            f"`pixel_values` must have shape (batch_size, {', '.join(map(str, expected))}) "
            f"({config.input_size} values per image), got {tuple(pixel_values.shape)}. "
            "Pass images through the model's image processor, which resizes and converts them."
        )


# save_pretrained copies this file beside the weights, so the folder loads with trust_remote_code=True
MnistMlpForImageClassification.register_for_auto_class("AutoModelForImageClassification")
