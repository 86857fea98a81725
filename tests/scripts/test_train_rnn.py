"""End-to-end runs of scripts/train_rnn.py on a small text file of its own: truncated backpropagation through time
over contiguous streams, the carried state kept across checkpoints, and the saved model usable as any other."""

import json
import math

import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from transformers import pipeline

import hfnets  # noqa: F401  (registers the Auto classes)
from hfnets import CharRnnConfig, CharRnnForCausalLM
from tests.conftest import SHARED_DIR, load_script, run_in_process, run_script
from tests.helpers.datasets import make_text_dataset
from tests.helpers.interrupt import interrupt_in_process, killed_and_uninterrupted

TINY = "hidden_size=48,num_layers=2,dropout=0.0"
VERSE = (
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date;\n"
)


@pytest.fixture
def text_files(tmp_path):
    train, validation = tmp_path / "train.txt", tmp_path / "validation.txt"
    train.write_text(VERSE * 40)
    validation.write_text(VERSE * 4)
    return train, validation


def tiny_args(train, validation, output_dir, *extra) -> list[str]:
    return [
        *("--train_file", str(train), "--validation_file", str(validation), "--output_dir", str(output_dir)),
        *("--config_overrides", TINY, "--per_device_train_batch_size", "8", "--block_size", "16"),
        *("--learning_rate", "1e-2", "--num_warmup_steps", "5", "--eval_streams", "4"),
        *("--report_to", "none", "--sample_length", "20"),
        *extra,
    ]


@pytest.fixture
def train_rnn():
    yield load_script("train_rnn")
    AcceleratorState._reset_state(True)


def test_streams_are_contiguous_rows_read_window_by_window(train_rnn):
    tokens = torch.arange(103)
    rows, steps = train_rnn.streams(tokens, num_streams=4, block_size=6, name="training")
    # 103 tokens -> 4 streams of 25; (25 - 1) // 6 = 4 steps of 6 inputs, plus the last step's target
    assert steps == 4 and rows.shape == (4, 25)
    assert torch.equal(rows[1], torch.arange(25, 50))
    window = rows[:, 6:13]  # step 1: inputs rows[:, 6:12], targets one further
    assert torch.equal(window[:, 0], torch.tensor([6, 31, 56, 81]))
    with pytest.raises(ValueError, match="too few for 4 streams of one window of 30 tokens"):
        train_rnn.streams(tokens, num_streams=4, block_size=30, name="training")


def test_short_run_on_a_text_file_learns_and_saves_everything(train_rnn, text_files, tmp_path):
    train, validation = text_files
    output_dir = tmp_path / "verse-rnn"
    results = train_rnn.main(
        tiny_args(train, validation, output_dir, "--max_train_steps", "200", "--eval_steps", "100")
    )
    vocab_size = len(set(VERSE)) + 2
    assert results["eval_loss"] < math.log(vocab_size) - 1.0  # far better than a uniform guess
    assert results["perplexity"] == pytest.approx(math.exp(results["eval_loss"]))
    # 4 streams of the validation text, each read in whole windows of 16: every scored token counted once
    assert results["eval_tokens"] == 4 * ((len(VERSE * 4) // 4 - 1) // 16) * 16
    assert results["train_tokens"] == 200 * 8 * 16
    names = {p.name for p in output_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "vocab.json",
        "tokenizer_config.json",
        "configuration_rnn.py",
        "modeling_rnn.py",
        "tokenization_gpt.py",
        "samples.txt",
        "README.md",
        "all_results.json",
    } <= names
    assert (output_dir / "samples.txt").read_text().count("step ") == 2

    card = ModelCard.load(output_dir / "README.md")
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert metrics["loss"] == round(results["eval_loss"], 4) and "perplexity" in metrics
    assert card.data.pipeline_tag == "text-generation" and "{{" not in card.text
    assert "8 streams x 16 characters" in card.text and "scripts/train_rnn.py" in card.text

    generator = pipeline("text-generation", model=str(output_dir))
    assert isinstance(generator.model, CharRnnForCausalLM)
    # the vocabulary is recorded with the model: a tokenizer of another one is refused where it is loaded
    assert generator.model.config.vocab_fingerprint == CharRnnConfig.fingerprint(generator.tokenizer.get_vocab())
    text = generator("Shall I", max_new_tokens=10, do_sample=False)[0]["generated_text"]
    assert text.startswith("Shall I") and len(text) == len("Shall I") + 10


def test_the_state_carries_from_step_to_step(train_rnn, text_files, tmp_path):
    """Carrying the state is what makes this char-rnn's training: the same run with the state dropped at every step
    ends elsewhere, and a checkpoint taken mid-epoch holds the state of every stream."""
    train, validation = text_files
    flags = ["--max_train_steps", "12", "--eval_steps", "12", "--sample_length", "0", "--mixed_precision", "no"]
    train_rnn.main(tiny_args(train, validation, tmp_path / "carried", *flags, "--checkpointing_steps", "5"))
    checkpoint = torch.load(tmp_path / "carried" / "checkpoint-10" / "custom_checkpoint_0.pkl", weights_only=False)
    layers = checkpoint["states"]
    assert len(layers) == 2 and [state.shape for state in layers[0]] == [(8, 1, 48), (8, 1, 48)]  # LSTM: h and c
    assert all(state.abs().sum() > 0 for layer in layers for state in layer)

    AcceleratorState._reset_state(True)
    original = train_rnn.detached
    train_rnn.detached = lambda cache, config: None  # every step starts from zeros
    try:
        train_rnn.main(tiny_args(train, validation, tmp_path / "dropped", *flags))
    finally:
        train_rnn.detached = original
    carried = load_file(tmp_path / "carried" / "model.safetensors")
    dropped = load_file(tmp_path / "dropped" / "model.safetensors")
    assert not torch.equal(carried["lm_head.weight"], dropped["lm_head.weight"])


RESUME_FLAGS = [
    *("--max_train_steps", "30", "--eval_steps", "15", "--checkpointing_steps", "10"),
    *("--config_overrides", TINY.replace("dropout=0.0", "dropout=0.1")),
]


def assert_same_weights(expected_dir, actual_dir):
    expected, actual = load_file(expected_dir / "model.safetensors"), load_file(actual_dir / "model.safetensors")
    for name in expected:
        assert torch.equal(expected[name], actual[name]), (actual_dir.name, name)


def test_interrupted_run_resumes_to_the_same_weights(train_rnn, text_files, tmp_path):
    """Killed after a checkpoint in the middle of an epoch: the resumed run continues with the carried state (and
    dropout's random state) it had, and ends exactly where the uninterrupted run ends."""
    train, validation = text_files
    train_rnn.main(tiny_args(train, validation, tmp_path / "reference", *RESUME_FLAGS))
    interrupt_in_process("train_rnn.py", tiny_args(train, validation, tmp_path / "resumed", *RESUME_FLAGS), 20)
    run_in_process(
        "train_rnn.py",
        tiny_args(train, validation, tmp_path / "resumed", *RESUME_FLAGS, "--resume_from_checkpoint", "latest"),
    )
    assert_same_weights(tmp_path / "reference", tmp_path / "resumed")


@pytest.mark.slow
def test_kill_9_at_random_moments_resumes_to_the_same_weights(text_files, tmp_path):
    train, validation = text_files

    def args_for(folder):
        return tiny_args(train, validation, folder, *RESUME_FLAGS)

    assert_same_weights(*killed_and_uninterrupted("train_rnn.py", args_for, tmp_path, kills=2))


def test_resuming_with_another_batch_is_refused(train_rnn, text_files, tmp_path):
    train, validation = text_files
    flags = ["--max_train_steps", "10", "--checkpointing_steps", "5", "--sample_length", "0"]
    train_rnn.main(tiny_args(train, validation, tmp_path / "run", *flags))
    AcceleratorState._reset_state(True)
    other = [*flags, "--resume_from_checkpoint", "latest", "--block_size", "8"]
    with pytest.raises(ValueError, match="Resuming with other processes, batch sizes or data"):
        train_rnn.main(tiny_args(train, validation, tmp_path / "run", *other))


@pytest.mark.parametrize("text", ["", "Too short."])
def test_a_text_too_short_for_the_streams_is_one_line_and_exit_code_2(text_files, tmp_path, text):
    train, validation = text_files
    (tmp_path / "short.txt").write_text(text)
    result = run_script(["scripts/train_rnn.py", *tiny_args(tmp_path / "short.txt", validation, tmp_path / "out")])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"train_rnn.py: error: The training text has {len(text)} tokens (characters): too few for 8 streams of one "
        "window of 16 tokens. Use more text, fewer streams (batch size, --eval_streams) or a smaller --block_size."
    )
    assert not (tmp_path / "out").exists()  # the folder the run made for itself goes with it: nothing was written


def test_a_gru_trains_in_bf16(train_rnn, text_files, tmp_path):
    train, validation = text_files
    flags = ["--config_overrides", "rnn_type=gru,hidden_size=32,num_layers=1", "--mixed_precision", "bf16"]
    results = train_rnn.main(tiny_args(train, validation, tmp_path / "gru", *flags, "--max_train_steps", "6"))
    assert results["mixed_precision"] == "bf16" and results["step"] == 6
    assert math.isfinite(results["eval_loss"])
    assert CharRnnForCausalLM.from_pretrained(tmp_path / "gru").config.rnn_type == "gru"


def test_invalid_config_overrides_are_refused(train_rnn, text_files, tmp_path):
    train, validation = text_files
    with pytest.raises(ValueError, match="`rnn_type` must be one of"):
        train_rnn.main(tiny_args(train, validation, tmp_path / "out", "--config_overrides", "rnn_type=transformer"))


def test_a_text_dataset_in_the_hub_layout_trains(train_rnn, tmp_path):
    dataset = make_text_dataset(tmp_path / "text", VERSE * 40, VERSE * 4)
    train_args = tiny_args("-", "-", tmp_path / "rnn", "--max_train_steps", "4", "--eval_steps", "4")[6:]
    results = train_rnn.main(["--dataset_name", str(dataset), "--output_dir", str(tmp_path / "rnn"), *train_args])
    assert results["train_tokens"] == 4 * 8 * 16 and results["eval_loss"] > 0


@pytest.mark.slow
def test_tiny_shakespeare_run(tmp_path):
    dataset = SHARED_DIR / "datasets" / "tiny_shakespeare"
    if not (dataset / "README.md").is_file():
        pytest.skip(f"needs the Tiny Shakespeare copy at {dataset}")
    result = run_script(
        [
            "scripts/train_rnn.py",
            *("--dataset_name", str(dataset), "--output_dir", str(tmp_path / "rnn")),
            *("--config_overrides", "hidden_size=128", "--max_train_steps", "250", "--eval_steps", "250"),
            *("--num_warmup_steps", "10"),
            *("--report_to", "none", "--sample_length", "0"),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "rnn" / "all_results.json").read_text())
    assert results["eval_loss"] < 3.0  # from ln(67) = 4.2 at the start
    assert results["train_tokens"] == 250 * 64 * 64


def test_evaluation_of_a_large_validation_text_reads_the_first_windows_of_each_stream(train_rnn, text_files, tmp_path):
    train, validation = text_files
    short = ("--max_train_steps", "2", "--eval_steps", "2")
    every = train_rnn.main(tiny_args(train, validation, tmp_path / "all", *short))
    first = train_rnn.main(tiny_args(train, validation, tmp_path / "first", *short, "--max_eval_windows", "1"))
    assert first["eval_tokens"] == 4 * 16 < every["eval_tokens"]  # 4 streams, one window of 16 each


def test_a_streamed_dataset_is_dealt_to_the_streams_and_resumes_where_it_stopped(tmp_path):
    """--streaming: the rows go to the streams in turn (row i to stream i mod N), each step reads the next window of
    every stream (its last target the next window's first input), and an interrupted run resumes, carried state and
    position in the stream, to the uninterrupted weights."""
    from datasets import Dataset

    from hfnets import CharGptTokenizer
    from hfnets.training.text_data import StreamedWindows
    from hfnets.training.token_store import encoder

    lines = (VERSE * 40).splitlines()
    (tmp_path / "verses" / "data").mkdir(parents=True)
    for split, rows in (("train", lines), ("validation", lines[:40])):
        Dataset.from_dict({"text": rows}).to_parquet(tmp_path / "verses" / "data" / f"{split}-00000-of-00001.parquet")
    tokenizer = CharGptTokenizer.from_text(VERSE)
    tokenizer.save_pretrained(tmp_path / "tokenizer")

    stream = StreamedWindows(
        Dataset.from_dict({"text": lines}).to_iterable_dataset(), "text", encoder(tokenizer), 5, 3, 1
    )
    first, second = stream.draw(), stream.draw()
    assert first.shape == (3, 6) and torch.equal(first[:, 5], second[:, 0])  # one token of overlap
    assert [tokenizer.decode(row) for row in first[:, :5]] == [line[:5] for line in lines[:3]]

    def args(output_dir, *extra):
        return [
            *(
                "--dataset_name",
                str(tmp_path / "verses"),
                "--streaming",
                "--tokenizer_name",
                str(tmp_path / "tokenizer"),
            ),
            *("--output_dir", str(output_dir), "--config_overrides", TINY, "--per_device_train_batch_size", "4"),
            *("--block_size", "16", "--eval_streams", "2", "--max_eval_windows", "4", "--max_train_steps", "12"),
            *("--eval_steps", "6", "--checkpointing_steps", "4", "--report_to", "none", "--sample_length", "8"),
            *extra,
        ]

    results = run_in_process("train_rnn.py", args(tmp_path / "reference"))
    assert results["step"] == 12 and results["eval_tokens"] == 2 * 4 * 16
    interrupt_in_process("train_rnn.py", args(tmp_path / "resumed"), 8)
    run_in_process("train_rnn.py", args(tmp_path / "resumed", "--resume_from_checkpoint", "latest"))
    expected = load_file(tmp_path / "reference" / "model.safetensors")
    actual = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(expected[name], actual[name]) for name in expected)
