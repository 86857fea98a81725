#!/usr/bin/env bash
# Runs transformers' and diffusers' own common tests on the hfnets classes (see peer_tests/README.md).
# Usage: bash peer_tests/run.sh DIFFUSERS_SOURCE_CHECKOUT   (from the repository root, venv active)
set -euo pipefail
root=$(pwd)
diffusers_src=${1:?give the path of a diffusers source checkout (its tests/ are not in the PyPI release)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# transformers: the release's source distribution ships tests/ (without tests/generation and tests/exporters).
tf_version=$(python -c "import transformers; print(transformers.__version__)")
pip download -q --no-deps --no-binary :all: "transformers==$tf_version" -d "$work"
tar xzf "$work/transformers-$tf_version.tar.gz" -C "$work"
t="$work/tf/tests"
mkdir -p "$t/generation" "$t/exporters" "$t/utils" "$t/fixtures"
cp "$work/transformers-$tf_version"/tests/*.py "$t/"
touch "$t/__init__.py" "$t/generation/__init__.py" "$t/exporters/__init__.py" "$t/utils/__init__.py"
cp "$root/peer_tests/stubs/transformers_generation.py" "$t/generation/test_utils.py"
cp "$root/peer_tests/stubs/transformers_export.py" "$t/exporters/test_export.py"
cp "$root/peer_tests/stubs/transformers_configuration_utils.py" "$t/utils/test_configuration_utils.py"
printf 'First Citizen:\nBefore we proceed any further, hear me speak.\n' > "$t/fixtures/sample_text.txt"
cp "$root"/peer_tests/transformers/test_hfnets_*.py "$t/"

# diffusers: the pipeline and model mixins from the checkout's tests/.
d="$work/df/tests"
mkdir -p "$d"
cp -r "$diffusers_src/tests/." "$d/"
cp "$root/peer_tests/diffusers/test_hfnets_pipelines.py" "$d/pipelines/"
cp "$root/peer_tests/diffusers/test_hfnets_models.py" "$d/models/"
export HFNETS_ROOT="$root"
(cd "$work/tf" && python -m pytest -p no:cacheprovider -q -rfs tests/test_hfnets_models.py tests/test_hfnets_tokenizer.py) || true
(cd "$work/df" && python -m pytest -p no:cacheprovider -q -rfs -W ignore tests/pipelines/test_hfnets_pipelines.py) || true
# diffusers' model mixins run only "on an accelerator"; on a CPU they are run anyway (without the offloading ones).
sed -i 's/return pytest.mark.skipif(torch_device == "cpu", reason="test requires a hardware accelerator")(test_case)/return test_case/' "$d/testing_utils.py"
(cd "$work/df" && python -m pytest -p no:cacheprovider -q -rfs -W ignore tests/models/test_hfnets_models.py) || true
