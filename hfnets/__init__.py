"""hfnets: classic neural-network families as Hugging Face models.

Importing `hfnets` registers the transformers families (MLP, CNN, GPT, RNN) with the Auto classes, so `AutoConfig`,
`AutoModelForImageClassification`, `AutoModelForCausalLM`, `AutoTokenizer`, `AutoImageProcessor` and
`transformers.pipeline(...)` load saved hfnets models (see `hfnets.registration`: each registration runs as
transformers defines the Auto class). Each model file calls `register_for_auto_class`, so `save_pretrained` also
copies the modeling files next to the weights and the folder loads with `trust_remote_code=True` where hfnets is not
installed. Every family and the rest of the library are imported on first use, as transformers' own lazy module does:
`import hfnets` imports neither torch nor transformers.
"""

from .lazy import lazy_names
from .registration import register_when_imported

__version__ = "0.1.0"

# Public name -> the submodule that defines it, imported when the name is first used.
_LAZY_NAMES = {
    "DigitClassificationPipeline": "mlp",
    "MnistMlpConfig": "mlp",
    "MnistMlpForImageClassification": "mlp",
    "MnistMlpImageProcessor": "mlp",
    "MnistMlpPreTrainedModel": "mlp",
    "CnnConfig": "cnn",
    "CnnForImageClassification": "cnn",
    "CnnImageProcessor": "cnn",
    "CnnPreTrainedModel": "cnn",
    "CharGptConfig": "gpt",
    "CharGptForCausalLM": "gpt",
    "CharGptModel": "gpt",
    "CharGptPreTrainedModel": "gpt",
    "CharGptTokenizer": "gpt",
    "CharRnnConfig": "rnn",
    "CharRnnForCausalLM": "rnn",
    "CharRnnPreTrainedModel": "rnn",
    "GanDiscriminator": "gan",
    "GanGenerator": "gan",
    "GanPipeline": "gan",
    "DdpmPipeline": "ddpm",
    "PRETRAINED_MODELS": "resources",
    "pretrained_path": "resources",
}

__all__ = [*_LAZY_NAMES, "__version__"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY_NAMES)


register_when_imported()
