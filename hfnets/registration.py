"""The transformers families (MLP, CNN, GPT) registered with transformers' Auto classes, each Auto class as it is
first imported.

`import hfnets` calls `register_when_imported()`. Registering needs the hfnets configuration and model classes, hence
torch and transformers' modeling code (seconds of CPU); importing an Auto class needs them too. So each registration
runs right after transformers defines the Auto class it extends (the module in `REGISTRATIONS`), and at once for a
module imported before hfnets: `import hfnets` itself stays light, and `AutoConfig`, `AutoModel...`,
`AutoTokenizer`, `AutoImageProcessor` and `pipeline(...)` know the hfnets model types whichever is imported first.
"""

import importlib.abc
import importlib.util
import sys
import threading
import warnings


def register_configs() -> None:
    from transformers import AutoConfig

    from .cnn.configuration_cnn import MnistCnnConfig
    from .gpt.configuration_gpt import CharGptConfig
    from .mlp.configuration_mlp import MnistMlpConfig

    for config_class in (MnistMlpConfig, MnistCnnConfig, CharGptConfig):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)


def register_models() -> None:
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForImageClassification

    from .cnn.configuration_cnn import MnistCnnConfig
    from .cnn.modeling_cnn import MnistCnnForImageClassification
    from .gpt.configuration_gpt import CharGptConfig
    from .gpt.modeling_gpt import CharGptForCausalLM, CharGptModel
    from .mlp.configuration_mlp import MnistMlpConfig
    from .mlp.modeling_mlp import MnistMlpForImageClassification

    AutoModel.register(MnistMlpConfig, MnistMlpForImageClassification, exist_ok=True)
    AutoModelForImageClassification.register(MnistMlpConfig, MnistMlpForImageClassification, exist_ok=True)
    AutoModel.register(MnistCnnConfig, MnistCnnForImageClassification, exist_ok=True)
    AutoModelForImageClassification.register(MnistCnnConfig, MnistCnnForImageClassification, exist_ok=True)
    AutoModel.register(CharGptConfig, CharGptModel, exist_ok=True)
    AutoModelForCausalLM.register(CharGptConfig, CharGptForCausalLM, exist_ok=True)


def register_tokenizers() -> None:
    from transformers import AutoTokenizer

    from .gpt.configuration_gpt import CharGptConfig
    from .gpt.tokenization_gpt import CharGptTokenizer

    AutoTokenizer.register(CharGptConfig, slow_tokenizer_class=CharGptTokenizer, exist_ok=True)


def register_image_processors() -> None:
    from transformers import AutoImageProcessor

    from .cnn.configuration_cnn import MnistCnnConfig
    from .mlp.configuration_mlp import MnistMlpConfig
    from .mlp.image_processing_mlp import MnistMlpImageProcessor

    for config_class in (MnistMlpConfig, MnistCnnConfig):
        AutoImageProcessor.register(config_class, slow_image_processor_class=MnistMlpImageProcessor, exist_ok=True)


# transformers' module that defines an Auto class -> the registration that extends it.
REGISTRATIONS = {
    "transformers.models.auto.configuration_auto": register_configs,
    "transformers.models.auto.modeling_auto": register_models,
    "transformers.models.auto.tokenization_auto": register_tokenizers,
    "transformers.models.auto.image_processing_auto": register_image_processors,
}


class _RegisterAfter(importlib.abc.Loader):
    """A module's own loader, followed by the registration that extends what the module defines."""

    def __init__(self, loader, register):
        self.loader = loader
        self.register = register

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        try:
            self.register()
        except Exception as error:  # transformers stays usable; only the hfnets model types are missing
            warnings.warn(f"hfnets could not register its models with {module.__name__}: {error!r}", stacklevel=2)

    def __getattr__(self, name: str):  # get_source, get_filename, resource readers: the module's own loader
        return getattr(self.loader, name)


class _AutoClassWatcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it hands the modules of `REGISTRATIONS` to the other finders and wraps their loader."""

    def __init__(self):
        self.pending = dict(REGISTRATIONS)
        self.lock = threading.Lock()

    def find_spec(self, fullname, path, target=None):
        with self.lock:
            register = self.pending.pop(fullname, None)
        if register is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisterAfter(spec.loader, register)
                return spec
        return None


_watcher = None


def register_when_imported() -> None:
    """Register each hfnets family with the Auto classes as transformers defines them (at once where it already
    has). Runs once, at `import hfnets`."""
    global _watcher
    if _watcher is not None:
        return
    _watcher = _AutoClassWatcher()
    for name, register in REGISTRATIONS.items():
        if name in sys.modules:
            _watcher.pending.pop(name)
            register()
    if _watcher.pending:
        sys.meta_path.insert(0, _watcher)
