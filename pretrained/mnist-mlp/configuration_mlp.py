"""Configuration of the MNIST multilayer perceptron (784-128-10 by default).

This file travels with the weights (`trust_remote_code=True`): it imports only the standard library and transformers.
"""

from transformers import PretrainedConfig

# The activations a hidden layer may use; the names are those of `transformers.activations.ACT2FN`.
SUPPORTED_ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "linear")


class MnistMlpConfig(PretrainedConfig):
    r"""
    Configuration of a [`MnistMlpForImageClassification`]: a fully connected network that flattens a
    `num_channels x image_size x image_size` image and maps it through `hidden_sizes` to `num_labels` logits.
    The defaults give the textbook 784-128-10 ReLU network.

    Args:
        image_size (`int`, *optional*, defaults to 28):
            Height and width of the (square) input image in pixels.
        num_channels (`int`, *optional*, defaults to 1):
            Number of channels of the input image (1 for grayscale MNIST).
        hidden_sizes (`list[int]`, *optional*, defaults to `[128]`):
            Width of each hidden layer, input side first. An empty list gives a linear (softmax regression) model.
        hidden_act (`str`, *optional*, defaults to `"relu"`):
            Activation after each hidden layer: one of `"relu"`, `"sigmoid"`, `"tanh"`, `"gelu"`, or `"linear"` (none:
            the layers then compose into one linear map, which shows what the non-linearity buys).
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout probability applied after each hidden activation during training.
        num_labels (`int`, *optional*, defaults to 10):
            Number of classes. `id2label`/`label2id` may be given instead (or as well) to name them; with neither,
            the classes are the digits `"0"` to `"9"`.

    Example:

    ```python
    >>> from hfnets import MnistMlpConfig, MnistMlpForImageClassification

    >>> config = MnistMlpConfig(hidden_sizes=[256, 128], hidden_act="tanh")
    >>> model = MnistMlpForImageClassification(config)
    ```
    """

    model_type = "hfnets-mnist-mlp"

    def __init__(
        self,
        image_size: int = 28,
        num_channels: int = 1,
        hidden_sizes: list[int] | None = None,
        hidden_act: str = "relu",
        dropout: float = 0.0,
        **kwargs,
    ):
        hidden_sizes = [128] if hidden_sizes is None else list(hidden_sizes)
        if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer, got {image_size!r}.")
        if not isinstance(num_channels, int) or isinstance(num_channels, bool) or num_channels < 1:
            raise ValueError(f"`num_channels` must be a positive integer, got {num_channels!r}.")
        for size in hidden_sizes:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ValueError(f"`hidden_sizes` must be a list of positive integers, got {hidden_sizes!r}.")
        if hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(f"`hidden_act` must be one of {SUPPORTED_ACTIVATIONS}, got {hidden_act!r}.")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a probability in [0, 1), got {dropout!r}.")
        if "num_labels" in kwargs and (not isinstance(kwargs["num_labels"], int) or kwargs["num_labels"] < 2):
            raise ValueError(f"`num_labels` must be an integer >= 2, got {kwargs['num_labels']!r}.")

        self.image_size = image_size
        self.num_channels = num_channels
        self.hidden_sizes = hidden_sizes
        self.hidden_act = hidden_act
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
            # The ten MNIST digits, named by themselves.
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

    @property
    def input_size(self) -> int:
        """Number of input features: one per pixel and channel (784 for MNIST)."""
        return self.num_channels * self.image_size * self.image_size


MnistMlpConfig.register_for_auto_class()  # save_pretrained copies this file beside config.json
