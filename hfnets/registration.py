"""The transformers families (MLP, CNN, GPT, RNN) registered with transformers' Auto classes, each Auto class as it is
first imported.

`import hfnets` calls `register_when_imported()`. Registering needs the hfnets configuration and model classes, hence
torch and transformers' modeling code (seconds of CPU); importing an Auto class needs them too. So each registration
runs right after transformers defines the Auto class it extends (the module in `REGISTRATIONS`), and at once for a
module imported before hfnets: `import hfnets` itself stays light, and `AutoConfig`, `AutoModel...`,
`AutoTokenizer`, `AutoImageProcessor` and `pipeline(...)` know the hfnets model types whichever is imported first.
"""

import importlib.abc
import sys
import threading
import warnings

# Model types that older hfnets releases saved, each read as the configuration that replaced it (saved again, a folder
# takes the new type). The MNIST judge was its own "hfnets-mnist-cnn" type before the CNN became one family.
LEGACY_MODEL_TYPES = {"hfnets-mnist-cnn": "hfnets-cnn"}


def register_configs() -> None:
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from .cnn.configuration_cnn import CnnConfig
    from .gpt.configuration_gpt import CharGptConfig
    from .mlp.configuration_mlp import MnistMlpConfig
    from .rnn.configuration_rnn import CharRnnConfig

    for config_class in (MnistMlpConfig, CnnConfig, CharGptConfig, CharRnnConfig):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    for legacy, current in LEGACY_MODEL_TYPES.items():
        # AutoConfig.register insists on the class's own model_type; the mapping itself reads any name as a class.
        CONFIG_MAPPING.register(legacy, CONFIG_MAPPING[current], exist_ok=True)


def register_models() -> None:
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForImageClassification

    from .cnn.configuration_cnn import CnnConfig
    from .cnn.modeling_cnn import CnnForImageClassification
    from .gpt.configuration_gpt import CharGptConfig
    from .gpt.modeling_gpt import CharGptForCausalLM, CharGptModel
    from .mlp.configuration_mlp import MnistMlpConfig
    from .mlp.modeling_mlp import MnistMlpForImageClassification
    from .rnn.configuration_rnn import CharRnnConfig
    from .rnn.modeling_rnn import CharRnnForCausalLM

    AutoModel.register(MnistMlpConfig, MnistMlpForImageClassification, exist_ok=True)
    AutoModelForImageClassification.register(MnistMlpConfig, MnistMlpForImageClassification, exist_ok=True)
    AutoModel.register(CnnConfig, CnnForImageClassification, exist_ok=True)
    AutoModelForImageClassification.register(CnnConfig, CnnForImageClassification, exist_ok=True)
    AutoModel.register(CharGptConfig, CharGptModel, exist_ok=True)
    AutoModelForCausalLM.register(CharGptConfig, CharGptForCausalLM, exist_ok=True)
    AutoModelForCausalLM.register(CharRnnConfig, CharRnnForCausalLM, exist_ok=True)


def register_tokenizers() -> None:
    from transformers import AutoTokenizer

    from .gpt.configuration_gpt import CharGptConfig
    from .gpt.tokenization_gpt import CharGptTokenizer
    from .rnn.configuration_rnn import CharRnnConfig

    for config_class in (CharGptConfig, CharRnnConfig):  # one character tokenizer for both language models
        AutoTokenizer.register(config_class, slow_tokenizer_class=CharGptTokenizer, exist_ok=True)


def register_image_processors() -> None:
    from transformers import AutoImageProcessor

    from .cnn.configuration_cnn import CnnConfig
    from .cnn.image_processing_cnn import CnnImageProcessor
    from .mlp.configuration_mlp import MnistMlpConfig
    from .mlp.image_processing_mlp import MnistMlpImageProcessor

    # A folder's preprocessor_config.json names its processor (the MNIST judge reads digits as the MLP does); these
    # are the defaults for a folder whose processor names no type.
    AutoImageProcessor.register(MnistMlpConfig, slow_image_processor_class=MnistMlpImageProcessor, exist_ok=True)
    AutoImageProcessor.register(CnnConfig, slow_image_processor_class=CnnImageProcessor, exist_ok=True)


# transformers' module that defines an Auto class -> the registration that extends it.
REGISTRATIONS = {
    "transformers.models.auto.configuration_auto": register_configs,
    "transformers.models.auto.modeling_auto": register_models,
    "transformers.models.auto.tokenization_auto": register_tokenizers,
    "transformers.models.auto.image_processing_auto": register_image_processors,
}


def _hfnets_module_initializing() -> bool:
    """Whether an hfnets module is being imported right now (its code has not finished running)."""
    return any(
        name.partition(".")[0] == "hfnets" and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )


class _RunThen(importlib.abc.Loader):
    """A module's own loader, followed by `after(name)` once the module has run."""

    def __init__(self, loader, after, name: str):
        self.loader = loader
        self.after = after
        self.name = name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        self.after(self.name)

    def __getattr__(self, name: str):  # get_source, get_filename, resource readers: the module's own loader
        return getattr(self.loader, name)


class _AutoClassWatcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it hands the modules of `REGISTRATIONS` (and hfnets' own) to the other finders and runs
    code after them.

    A registration runs when its transformers module has run (not when the module is merely looked for:
    `importlib.util.find_spec` probes without importing). transformers defines some Auto classes while an hfnets
    model file is itself being imported (`transformers.modeling_layers` imports `AutoModel`); the registration, which
    needs that file's classes, then waits for the next hfnets module to finish."""

    def __init__(self):
        self.pending = dict(REGISTRATIONS)
        self.deferred = {}
        self.lock = threading.RLock()
        self.retrying = False

    def find_spec(self, fullname, path, target=None):
        if fullname in self.pending:
            after = self.registration_module_ran
        elif fullname.partition(".")[0] == "hfnets":
            after = self.hfnets_module_ran
        else:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RunThen(spec.loader, after, fullname)
                return spec
        return None

    def registration_module_ran(self, name: str) -> None:
        with self.lock:
            register = self.pending.pop(name, None)
        if register is not None:
            self.run(name, register)

    def hfnets_module_ran(self, name: str) -> None:
        with self.lock:
            if self.retrying or not self.deferred:
                return
            self.retrying = True
            try:
                for module_name, register in list(self.deferred.items()):
                    del self.deferred[module_name]
                    self.run(module_name, register)
            finally:
                self.retrying = False

    def run(self, name: str, register) -> None:
        try:
            register()
        except ImportError as error:
            if not _hfnets_module_initializing():
                _warn_unregistered(name, error)
                return
            with self.lock:
                self.deferred[name] = register  # retried when the hfnets module being imported has run
        except Exception as error:  # transformers stays usable; only the hfnets model types are missing
            _warn_unregistered(name, error)


def _warn_unregistered(name: str, error: Exception) -> None:
    warnings.warn(f"hfnets could not register its models with {name}: {error!r}", stacklevel=4)


_watcher = None


def register_when_imported() -> None:
    """Register each hfnets family with the Auto classes as transformers defines them (at once where it already
    has). Runs once, at `import hfnets`."""
    global _watcher
    if _watcher is not None:
        return
    _watcher = _AutoClassWatcher()
    sys.meta_path.insert(0, _watcher)
    for name in REGISTRATIONS:
        if name in sys.modules:
            _watcher.registration_module_ran(name)
