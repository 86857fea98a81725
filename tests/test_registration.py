"""`import hfnets` is light, and the Auto classes know the hfnets model types whichever is imported first."""

import pytest

from tests.conftest import REPO_ROOT, run_script

LOAD_EVERY_KIND = """
from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForCausalLM
from transformers import AutoModelForImageClassification, AutoTokenizer
loaded = [
    AutoConfig.from_pretrained("pretrained/char-gpt"),
    AutoModel.from_pretrained("pretrained/char-gpt"),
    AutoModelForCausalLM.from_pretrained("pretrained/char-gpt"),
    AutoTokenizer.from_pretrained("pretrained/char-gpt"),
    AutoModelForImageClassification.from_pretrained("pretrained/mnist-mlp"),
    AutoModelForImageClassification.from_pretrained("pretrained/mnist-cnn"),
    AutoImageProcessor.from_pretrained("pretrained/mnist-cnn"),
]
print(" ".join(type(obj).__module__.split(".")[0] for obj in loaded))
"""


def test_import_hfnets_imports_neither_torch_nor_transformers():
    result = run_script(
        ["-c", "import sys, hfnets; print(sorted({'torch', 'transformers', 'diffusers'} & set(sys.modules)))"]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_cli_help_and_version_import_no_framework():
    code = (
        "import sys, contextlib, io\n"
        "from hfnets.cli import main\n"
        "for flag in ('--help', '--version'):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main([flag])\n"
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = run_script(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "first",
    [
        "hfnets",
        "transformers.modeling_utils",
        "transformers.models.auto.modeling_auto",
        "hfnets.gpt.modeling_gpt",  # transformers defines AutoModel while this file is being imported
        "hfnets.mlp.modeling_mlp",
    ],
)
def test_auto_classes_load_every_hfnets_kind_whatever_was_imported_first(first):
    """Each Auto class is extended as transformers defines it, or at `import hfnets` when it already was, or, when
    transformers defines it in the middle of an hfnets model file's import, once that file has run."""
    if not (REPO_ROOT / "pretrained" / "char-gpt" / "config.json").is_file():
        pytest.skip("needs the shipped models in pretrained/")
    result = run_script(["-c", f"import {first}\nimport hfnets\n{LOAD_EVERY_KIND}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["hfnets"] * 7
    assert "could not register" not in result.stderr


def test_a_model_class_imported_directly_still_saves_its_code(tmp_path):
    """`register_for_auto_class` lives in the model files: `save_pretrained` writes the folder that loads with
    `trust_remote_code=True`, however the class was imported."""
    code = (
        "import sys\n"
        "from hfnets.mlp.modeling_mlp import MnistMlpForImageClassification\n"
        "from hfnets.mlp.configuration_mlp import MnistMlpConfig\n"
        f"MnistMlpForImageClassification(MnistMlpConfig()).save_pretrained({str(tmp_path)!r})\n"
    )
    result = run_script(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"configuration_mlp.py", "modeling_mlp.py"} <= {p.name for p in tmp_path.iterdir()}
    assert (
        '"AutoModelForImageClassification": "modeling_mlp.MnistMlpForImageClassification"'
        in (tmp_path / "config.json").read_text()
    )


def test_a_registration_that_fails_warns_and_leaves_transformers_usable():
    code = (
        "import sys, warnings\n"
        "import hfnets\n"
        "sys.modules['hfnets.mlp.configuration_mlp'] = None  # its import now fails\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from transformers import AutoConfig\n"
        "print(AutoConfig.__name__, [str(w.message) for w in caught if 'could not register' in str(w.message)])\n"
    )
    result = run_script(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("AutoConfig ")  # transformers imported fine
    assert "hfnets could not register its models with transformers.models.auto.configuration_auto" in result.stdout
    assert "hfnets.mlp.configuration_mlp" in result.stdout  # the warning names what failed


def test_a_module_looked_for_before_it_is_imported_still_registers():
    """Libraries probe for modules with `importlib.util.find_spec` without importing them; the registration waits for
    the module to run."""
    code = (
        "import importlib.util\n"
        "import hfnets\n"
        "assert importlib.util.find_spec('transformers.models.auto.modeling_auto') is not None\n"
        "from transformers import AutoModelForCausalLM\n"
        "print(type(AutoModelForCausalLM.from_pretrained('pretrained/char-gpt')).__module__)\n"
    )
    result = run_script(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "hfnets.gpt.modeling_gpt"
