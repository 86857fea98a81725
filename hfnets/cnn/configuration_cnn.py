"""Configuration of the small MNIST convolutional classifier (the judge of generated digits).

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

from transformers import PretrainedConfig


class MnistCnnConfig(PretrainedConfig):
    r"""
    Configuration of a [`MnistCnnForImageClassification`]: two blocks of (conv 3x3, ReLU, conv 3x3, ReLU, max-pool 2),
    then a hidden fully connected layer whose activations are the features the evaluation compares.

    Args:
        image_size (`int`, *optional*, defaults to 28): input side; a multiple of 4.
        num_channels (`int`, *optional*, defaults to 1): input channels.
        conv_channels (`list[int]`, *optional*, defaults to `[32, 64]`): channels of the two convolution blocks.
        hidden_size (`int`, *optional*, defaults to 128): width of the hidden fully connected layer (the features).
        dropout (`float`, *optional*, defaults to 0.25): dropout before the hidden and output layers in training.
        num_labels (`int`, *optional*, defaults to 10): classes; with no `id2label`, the digits "0" to "9".
    """

    model_type = "hfnets-mnist-cnn"

    def __init__(
        self,
        image_size: int = 28,
        num_channels: int = 1,
        conv_channels: list[int] | None = None,
        hidden_size: int = 128,
        dropout: float = 0.25,
        **kwargs,
    ):
        conv_channels = [32, 64] if conv_channels is None else list(conv_channels)
        if not isinstance(image_size, int) or image_size < 4 or image_size % 4 != 0:
            raise ValueError(f"`image_size` must be a multiple of 4 (two 2x poolings), got {image_size!r}.")
        if len(conv_channels) != 2 or any(not isinstance(c, int) or c < 1 for c in conv_channels):
            raise ValueError(f"`conv_channels` must be two positive integers, got {conv_channels!r}.")
        for name, value in (("num_channels", num_channels), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a probability in [0, 1), got {dropout!r}.")
        self.image_size = image_size
        self.num_channels = num_channels
        self.conv_channels = conv_channels
        self.hidden_size = hidden_size
        self.dropout = float(dropout)
        if (
            kwargs.get("id2label") is not None
            and "num_labels" in kwargs
            and len(kwargs["id2label"]) != kwargs["num_labels"]
        ):
            raise ValueError(
                f"`num_labels={kwargs['num_labels']}` but `id2label` names {len(kwargs['id2label'])} classes: "
                "give one of the two, or both in agreement."
            )
        if "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = {i: str(i) for i in range(10)}
            kwargs["label2id"] = {str(i): i for i in range(10)}
        super().__init__(**kwargs)

    @classmethod
    def from_dict(cls, config_dict, **kwargs):
        # `from_pretrained(folder, num_labels=N, ignore_mismatched_sizes=True)` gives the model a new head of N
        # classes: the saved class names belong to the old head and are dropped (the new classes are "LABEL_i").
        num_labels = kwargs.get("num_labels")
        if num_labels is not None and len(config_dict.get("id2label") or ()) not in (0, num_labels):
            config_dict = {k: v for k, v in config_dict.items() if k not in ("id2label", "label2id")}
        return super().from_dict(config_dict, **kwargs)


MnistCnnConfig.register_for_auto_class()  # save_pretrained copies this file beside config.json
