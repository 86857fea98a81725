"""Every flag a training script offers is one it reads: what a family has no use for is refused by argparse."""

import contextlib
import io
import re

import pytest

from hfnets.training import flags
from tests.conftest import REPO_ROOT, load_script

SCRIPTS = ("train_mlp", "train_cnn", "train_gpt", "train_rnn", "train_gan", "train_ddpm")
HELPERS = [*(REPO_ROOT / "hfnets" / "training").glob("*.py"), *(REPO_ROOT / "hfnets" / "hub").glob("*.py")]


def offered_flags(module) -> set[str]:
    """The flags in the script's --help."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(SystemExit):
        module.parse_args(["--help"])
    return set(re.findall(r"^\s+(--\w+)", output.getvalue(), flags=re.MULTILINE)) - {"--help"}


def names_read(path) -> set[str]:
    """`args.name`, `getattr(args, "name")`, and the flags of groups passed on whole: `data_flags(args, GROUP)`."""
    source = path.read_text()
    names = {a or b for a, b in re.findall(r"\bargs\.(\w+)|getattr\(args, \"(\w+)\"", source)}
    for group in re.findall(r"\bdata_flags\(args, (\w+)\)", source):
        names.update(getattr(flags, group))
    return names


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_offered_flag_is_read(name):
    module = load_script(name)
    read = names_read(REPO_ROOT / "scripts" / f"{name}.py").union(*(names_read(path) for path in HELPERS))
    unread = {flag for flag in offered_flags(module) if flag[2:] not in read}
    assert not unread, f"{name}.py offers flags it never reads: {sorted(unread)}"


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("train_gan", ["--lr_scheduler_type", "cosine"]),
        ("train_gan", ["--num_warmup_steps", "10"]),
        ("train_gan", ["--weight_decay", "0.1"]),
        ("train_gan", ["--per_device_eval_batch_size", "8"]),
        ("train_gan", ["--max_eval_samples", "8"]),
        ("train_gan", ["--gradient_accumulation_steps", "2"]),
        ("train_ddpm", ["--per_device_eval_batch_size", "8"]),
        ("train_ddpm", ["--max_eval_samples", "8"]),
        ("train_gpt", ["--max_train_samples", "8"]),
        ("train_gpt", ["--max_eval_samples", "8"]),
        ("train_rnn", ["--gradient_accumulation_steps", "2"]),
        ("train_rnn", ["--per_device_eval_batch_size", "8"]),
        ("train_rnn", ["--max_train_samples", "8"]),
        ("train_rnn", ["--sampling", "packed"]),
    ],
)
def test_flags_a_family_has_no_use_for_are_refused(name, flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(name).parse_args(["--output_dir", "out", *flags])
    assert exit_info.value.code == 2
    assert f"unrecognized arguments: {' '.join(flags)}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--architecture", "cnn"], "unrecognized arguments: --architecture cnn"),  # the CNN has its own script
        (["--model_name_or_path", "m", "--hidden_sizes", "64"], "continues a saved one with its own"),
        (["--model_name_or_path", "m", "--dropout", "0.1"], "--dropout describe a new network"),
    ],
)
def test_mlp_shape_flags_are_refused_where_they_would_be_ignored(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("train_mlp").parse_args(["--output_dir", "out", *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags",
    [["--image_size", "32"], ["--conv_channels", "8", "16"], ["--num_channels", "3"], ["--dropout", "0.1"]],
)
def test_cnn_shape_flags_are_refused_with_a_saved_model(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("train_cnn").parse_args(
            ["--output_dir", "out", "--train_dir", "d", "--model_name_or_path", "m", *flags]
        )
    assert exit_info.value.code == 2 and "continues a saved one with its own" in capsys.readouterr().err


@pytest.mark.parametrize("name", SCRIPTS)
@pytest.mark.parametrize("value", ["inf", "nan", "-1e-3", "0"])
def test_a_learning_rate_that_is_not_a_finite_positive_number_is_refused(name, value, capsys):
    """`--learning_rate inf` would train to a NaN model and save it: refused before anything runs."""
    with pytest.raises(SystemExit) as exit_info:
        load_script(name).parse_args(["--output_dir", "out", f"--learning_rate={value}"])
    assert exit_info.value.code == 2
    assert "--learning_rate must be a finite number > 0" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["inf", "nan", "-0.1"])
def test_a_weight_decay_that_is_not_a_finite_number_is_refused(value, capsys):
    with pytest.raises(SystemExit):
        load_script("train_mlp").parse_args(["--output_dir", "out", f"--weight_decay={value}"])
    assert "--weight_decay must be a finite number >= 0" in capsys.readouterr().err
