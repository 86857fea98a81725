"""Configuration of the convolutional image classifier, and of the MNIST digit classifier that judges generated digits.

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

from transformers import PretrainedConfig


class CnnConfig(PretrainedConfig):
    r"""
    Configuration of a [`CnnForImageClassification`]: one block of (conv 3x3, ReLU, conv 3x3, ReLU, max-pool 2) per
    entry of `conv_channels`, then a hidden fully connected layer whose activations are the image's features, then
    the classifier.

    Args:
        image_size (`int`, *optional*, defaults to 28): input side (square images); each block halves it, so it must
            be a multiple of 2 ** len(conv_channels).
        num_channels (`int`, *optional*, defaults to 1): input channels (1: grayscale, 3: RGB).
        conv_channels (`list[int]`, *optional*, defaults to `[32, 64]`): channels of the convolution blocks.
        batch_norm (`bool`, *optional*, defaults to `False`): batch normalization after each convolution (faster,
            steadier training from scratch, above all on photos).
        pooling (`str`, *optional*, defaults to `"flatten"`): how the last block's maps reach the hidden layer:
            `"flatten"` keeps where each feature is (every position has its own weights: digits, centered objects);
            `"max"` and `"average"` take each channel's peak or mean over the map, so a feature counts wherever it is
            (objects anywhere in a photo, and far fewer weights).
        hidden_size (`int`, *optional*, defaults to 128): width of the hidden fully connected layer (the features).
        dropout (`float`, *optional*, defaults to 0.25): dropout before the hidden and output layers in training.
        id2label (`dict[int, str]`, *optional*): class names; or `num_labels` for "LABEL_0", "LABEL_1", ...

    Example:

    ```python
    >>> from hfnets import CnnConfig, CnnForImageClassification

    >>> config = CnnConfig(image_size=64, num_channels=3, conv_channels=[32, 64, 128], id2label={0: "cat", 1: "dog"})
    >>> model = CnnForImageClassification(config)
    ```
    """

    model_type = "hfnets-cnn"

    def __init__(
        self,
        image_size: int = 28,
        num_channels: int = 1,
        conv_channels: list[int] | None = None,
        batch_norm: bool = False,
        pooling: str = "flatten",
        hidden_size: int = 128,
        dropout: float = 0.25,
        **kwargs,
    ):
        conv_channels = [32, 64] if conv_channels is None else list(conv_channels)
        if not conv_channels or any(not isinstance(c, int) or isinstance(c, bool) or c < 1 for c in conv_channels):
            raise ValueError(f"`conv_channels` must be one or more positive integers, got {conv_channels!r}.")
        reduction = 2 ** len(conv_channels)
        if not isinstance(image_size, int) or image_size < reduction or image_size % reduction != 0:
            raise ValueError(
                f"`image_size` must be a multiple of {reduction} ({len(conv_channels)} blocks each halve it), got "
                f"{image_size!r}."
            )
        if pooling not in ("flatten", "average", "max"):
            raise ValueError(f"`pooling` must be 'flatten', 'average' or 'max', got {pooling!r}.")
        for name, value in (("num_channels", num_channels), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a probability in [0, 1), got {dropout!r}.")
        self.image_size = image_size
        self.num_channels = num_channels
        self.conv_channels = conv_channels
        self.batch_norm = bool(batch_norm)
        self.pooling = pooling
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
        if kwargs.get("id2label") is not None and kwargs.get("label2id") is None:  # the names both ways
            kwargs["label2id"] = {name: int(index) for index, name in kwargs["id2label"].items()}
        super().__init__(**kwargs)

    @classmethod
    def from_dict(cls, config_dict, **kwargs):
        # `from_pretrained(folder, num_labels=N, ignore_mismatched_sizes=True)` gives the model a new head of N
        # classes: the saved class names belong to the old head and are dropped (the new classes are "LABEL_i").
        num_labels = kwargs.get("num_labels")
        if num_labels is not None and len(config_dict.get("id2label") or ()) not in (0, num_labels):
            config_dict = {k: v for k, v in config_dict.items() if k not in ("id2label", "label2id")}
        return super().from_dict(config_dict, **kwargs)


class MnistCnnConfig(CnnConfig):
    r"""
    The MNIST digit classifier that judges generated digits: a [`CnnConfig`] of two blocks (32 and 64 channels) on
    28x28 grayscale images, whose classes are the digits "0" to "9" unless `id2label` or `num_labels` says otherwise.
    """

    model_type = "hfnets-mnist-cnn"

    def __init__(self, **kwargs):
        if "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = {i: str(i) for i in range(10)}
            kwargs["label2id"] = {str(i): i for i in range(10)}
        super().__init__(**kwargs)


CnnConfig.register_for_auto_class()  # save_pretrained copies this file beside config.json
MnistCnnConfig.register_for_auto_class()
