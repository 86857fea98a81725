"""End-to-end runs of scripts/train_gpt.py: on a small text file of its own, and on Tiny Shakespeare."""

import json
import math

import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from transformers import pipeline

import hfnets  # noqa: F401  (registers the Auto classes)
from hfnets import CharGptConfig, CharGptForCausalLM
from tests.conftest import SHARED_DIR, load_script, run_in_process, run_script
from tests.helpers.datasets import make_text_dataset
from tests.helpers.interrupt import interrupt_in_process, killed_and_uninterrupted

TINY = "n_layer=2,n_head=2,n_embd=32,n_positions=32,dropout=0.0"
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
        "--train_file",
        str(train),
        "--validation_file",
        str(validation),
        "--output_dir",
        str(output_dir),
        "--config_overrides",
        TINY,
        "--per_device_train_batch_size",
        "8",
        "--learning_rate",
        "3e-3",
        "--num_warmup_steps",
        "5",
        "--report_to",
        "none",
        "--sample_length",
        "20",
        *extra,
    ]


@pytest.fixture
def train_gpt():
    yield load_script("train_gpt")
    AcceleratorState._reset_state(True)


def test_short_run_on_a_text_file_learns_and_saves_everything(train_gpt, text_files, tmp_path):
    train, validation = text_files
    output_dir = tmp_path / "verse-gpt"
    results = train_gpt.main(tiny_args(train, validation, output_dir, "--max_train_steps", "80", "--eval_steps", "40"))
    vocab_size = len(set(VERSE)) + 2
    assert results["eval_loss"] < math.log(vocab_size) - 1.0  # far better than a uniform guess
    assert results["perplexity"] == pytest.approx(math.exp(results["eval_loss"]))
    names = {p.name for p in output_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "vocab.json",
        "tokenizer_config.json",
        "modeling_gpt.py",
        "tokenization_gpt.py",
        "generation_config.json",
        "samples.txt",
        "README.md",
        "all_results.json",
    } <= names
    assert (output_dir / "samples.txt").read_text().count("step ") == 2

    card = ModelCard.load(output_dir / "README.md")
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert metrics["loss"] == round(results["eval_loss"], 4) and "perplexity" in metrics
    assert card.data.pipeline_tag == "text-generation" and "{{" not in card.text

    generator = pipeline("text-generation", model=str(output_dir))
    text = generator("Shall I", max_new_tokens=10, do_sample=False)[0]["generated_text"]
    assert text.startswith("Shall I") and len(text) == len("Shall I") + 10


RESUME_FLAGS = [
    *("--max_train_steps", "30", "--eval_steps", "15", "--checkpointing_steps", "10"),
    *("--config_overrides", TINY.replace("dropout=0.0", "dropout=0.1")),
]


def assert_same_weights(expected_dir, actual_dir):
    expected, actual = load_file(expected_dir / "model.safetensors"), load_file(actual_dir / "model.safetensors")
    for name in expected:
        assert torch.equal(expected[name], actual[name]), (actual_dir.name, name)


def test_interrupted_run_resumes_to_the_same_weights(train_gpt, text_files, tmp_path):
    train, validation = text_files
    reference = tiny_args(train, validation, tmp_path / "reference", *RESUME_FLAGS, "--checkpoints_total_limit", "2")
    train_gpt.main(reference)
    # checkpoints at steps 10, 20 and 30: the oldest is removed to keep two
    assert sorted(p.name for p in (tmp_path / "reference").glob("checkpoint-*")) == ["checkpoint-20", "checkpoint-30"]
    interrupt_in_process("train_gpt.py", tiny_args(train, validation, tmp_path / "resumed", *RESUME_FLAGS), 20)
    run_in_process(
        "train_gpt.py",
        tiny_args(train, validation, tmp_path / "resumed", *RESUME_FLAGS, "--resume_from_checkpoint", "latest"),
    )
    assert_same_weights(tmp_path / "reference", tmp_path / "resumed")


@pytest.mark.slow
def test_kill_9_at_random_moments_resumes_to_the_same_weights(text_files, tmp_path):
    train, validation = text_files

    def args_for(folder):
        return tiny_args(train, validation, folder, *RESUME_FLAGS)

    assert_same_weights(*killed_and_uninterrupted("train_gpt.py", args_for, tmp_path, kills=2))


def test_tokenizer_that_does_not_match_the_model_is_refused(train_gpt, text_files, tmp_path):
    train, validation = text_files
    CharGptForCausalLM(CharGptConfig(vocab_size=10, n_layer=1, n_head=2, n_embd=16)).save_pretrained(tmp_path / "m")
    from hfnets import CharGptTokenizer

    CharGptTokenizer.from_text(VERSE).save_pretrained(tmp_path / "tok")
    with pytest.raises(ValueError, match="The tokenizer has 3\\d tokens but the model's vocabulary has 10"):
        train_gpt.main(
            tiny_args(
                train,
                validation,
                tmp_path / "out",
                "--model_name_or_path",
                str(tmp_path / "m"),
                "--tokenizer_name",
                str(tmp_path / "tok"),
            )
        )


def test_tokenizer_of_another_vocabulary_of_the_same_size_is_refused(train_gpt, text_files, tmp_path):
    train, validation = text_files
    from hfnets import CharGptTokenizer

    own = CharGptTokenizer.from_text(VERSE)
    config = CharGptConfig(
        vocab_size=len(own),
        n_layer=1,
        n_head=2,
        n_embd=16,
        vocab_fingerprint=CharGptConfig.fingerprint(own.get_vocab()),
    )
    CharGptForCausalLM(config).save_pretrained(tmp_path / "m")
    other = CharGptTokenizer.from_text(VERSE.swapcase())
    assert len(other) == len(own)
    other.save_pretrained(tmp_path / "tok")
    with pytest.raises(ValueError, match="The tokenizer's vocabulary is not the one this model was trained with"):
        train_gpt.main(
            tiny_args(
                train,
                validation,
                tmp_path / "out",
                "--model_name_or_path",
                str(tmp_path / "m"),
                "--tokenizer_name",
                str(tmp_path / "tok"),
            )
        )


@pytest.mark.parametrize("text", ["", "Too short."])
def test_a_text_shorter_than_one_window_is_one_line_and_exit_code_2(text_files, tmp_path, text):
    train, validation = text_files
    (tmp_path / "short.txt").write_text(text)
    result = run_script(["scripts/train_gpt.py", *tiny_args(tmp_path / "short.txt", validation, tmp_path / "out")])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"train_gpt.py: error: The training text has {len(text)} tokens (characters), fewer than one window of "
        "--block_size 32: use more text, or a smaller --block_size."
    )


def test_block_size_beyond_the_context_is_refused(train_gpt, text_files, tmp_path):
    train, validation = text_files
    with pytest.raises(ValueError, match="--block_size 64 exceeds the model's context n_positions=32"):
        train_gpt.main(tiny_args(train, validation, tmp_path / "out", "--block_size", "64"))


def test_invalid_config_overrides_are_refused(train_gpt, text_files, tmp_path):
    train, validation = text_files
    with pytest.raises(ValueError, match="must be divisible by `n_head`"):
        train_gpt.main(tiny_args(train, validation, tmp_path / "out", "--config_overrides", "n_embd=30,n_head=4"))


def test_a_text_dataset_in_the_hub_layout_trains(train_gpt, tmp_path):
    dataset = make_text_dataset(tmp_path / "text", VERSE * 40, VERSE * 4)
    train_args = tiny_args("-", "-", tmp_path / "gpt", "--max_train_steps", "4", "--eval_steps", "4")[4:]
    results = train_gpt.main(["--dataset_name", str(dataset), *train_args])
    assert results["train_tokens"] == 4 * 8 * 32 and results["eval_tokens"] > 0


@pytest.mark.slow
def test_tiny_shakespeare_run(tmp_path):
    dataset = SHARED_DIR / "datasets" / "tiny_shakespeare"
    if not (dataset / "README.md").is_file():
        pytest.skip(f"needs the Tiny Shakespeare copy at {dataset}")
    result = run_script(
        [
            "scripts/train_gpt.py",
            "--dataset_name",
            str(dataset),
            "--output_dir",
            str(tmp_path / "gpt"),
            "--max_train_steps",
            "150",
            "--eval_steps",
            "150",
            "--report_to",
            "none",
            "--sample_length",
            "0",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "gpt" / "all_results.json").read_text())
    assert results["eval_loss"] < 3.0  # from ln(67) = 4.2 at the start
    assert results["train_tokens"] == 150 * 12 * 64


def test_any_existing_tokenizer_can_replace_the_character_one(train_gpt, text_files, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    train, validation = text_files
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator([VERSE], trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<eos>"]))
    PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", eos_token="<eos>").save_pretrained(
        tmp_path / "bpe"
    )

    results = train_gpt.main(
        tiny_args(
            train,
            validation,
            tmp_path / "bpe-gpt",
            "--tokenizer_name",
            str(tmp_path / "bpe"),
            "--max_train_steps",
            "20",
            "--eval_steps",
            "20",
            "--block_size",
            "16",
        )
    )
    assert results["eval_loss"] < math.log(120)
    model = CharGptForCausalLM.from_pretrained(tmp_path / "bpe-gpt")
    assert model.config.vocab_size == 120


def test_packed_windows_train_for_whole_epochs(train_gpt, text_files, tmp_path):
    train, validation = text_files
    results = train_gpt.main(
        tiny_args(train, validation, tmp_path / "packed", "--sampling", "packed", "--num_train_epochs", "2")
    )
    windows = len(VERSE * 40) // 32  # one token per character, context 32
    assert results["step"] == 2 * math.ceil(windows / 8)
    assert results["train_tokens"] == 2 * windows * 32


def test_bf16_gradient_checkpointing_and_accumulation(train_gpt, text_files, tmp_path):
    train, validation = text_files
    results = train_gpt.main(
        tiny_args(
            train,
            validation,
            tmp_path / "bf16",
            "--mixed_precision",
            "bf16",
            "--gradient_checkpointing",
            "--gradient_accumulation_steps",
            "2",
            "--max_train_steps",
            "6",
            "--eval_steps",
            "6",
        )
    )
    assert results["mixed_precision"] == "bf16" and results["step"] == 6
    assert results["train_tokens"] == 6 * 2 * 8 * 32  # steps x accumulation x batch x block
    assert math.isfinite(results["eval_loss"])


def test_evaluation_of_a_large_validation_text_reads_an_even_sample_of_its_windows(train_gpt, text_files, tmp_path):
    train, validation = text_files
    every = train_gpt.main(
        tiny_args(train, validation, tmp_path / "all", "--max_train_steps", "2", "--eval_steps", "2")
    )
    sampled = train_gpt.main(
        tiny_args(train, validation, tmp_path / "some", "--max_train_steps", "2", "--eval_steps", "2")
        + ["--max_eval_windows", "2"]
    )
    assert sampled["eval_tokens"] == 2 * 31 < every["eval_tokens"]  # 2 windows of 32 tokens, 31 targets each
    assert sampled["eval_loss"] == pytest.approx(every["eval_loss"], rel=0.2)


@pytest.fixture
def streamed(tmp_path):
    """A dataset of many rows (the verse's lines) in two training shards and a validation shard, streamed from its
    folder, and a character tokenizer saved beside it (a stream gives no pass to build one from)."""
    from datasets import Dataset

    from hfnets import CharGptTokenizer

    lines = (VERSE * 40).splitlines()
    folder = tmp_path / "verses" / "data"
    folder.mkdir(parents=True)
    for index, part in enumerate((lines[:70], lines[70:])):
        Dataset.from_dict({"text": part}).to_parquet(folder / f"train-0000{index}-of-00002.parquet")
    Dataset.from_dict({"text": lines[:16]}).to_parquet(folder / "validation-00000-of-00001.parquet")
    CharGptTokenizer.from_text(VERSE).save_pretrained(tmp_path / "tokenizer")
    return tmp_path / "verses", tmp_path / "tokenizer"


def streamed_args(streamed, output_dir, *extra) -> list[str]:
    dataset, tokenizer = streamed
    return [
        *("--dataset_name", str(dataset), "--streaming", "--tokenizer_name", str(tokenizer)),
        *("--output_dir", str(output_dir), "--config_overrides", TINY, "--per_device_train_batch_size", "4"),
        *("--max_train_steps", "12", "--eval_steps", "6", "--max_eval_windows", "8", "--checkpointing_steps", "4"),
        *("--report_to", "none", "--sample_length", "8"),
        *extra,
    ]


def test_a_streamed_dataset_trains_in_order_and_resumes_where_it_stopped(streamed, tmp_path):
    """--streaming: the rows are read as training goes, in their order across shards; an interrupted run resumes
    from the position saved in its checkpoint (the rows read and the tokens not yet served), to the same weights."""
    results = run_in_process("train_gpt.py", streamed_args(streamed, tmp_path / "reference"))
    assert results["step"] == 12 and results["eval_tokens"] == 8 * 31  # 31 scored in each of the first 8 windows
    state = torch.load(tmp_path / "reference" / "checkpoint-8" / "custom_checkpoint_0.pkl", weights_only=False)
    assert state["windows_served"] == 8 * 4  # 8 steps of 4 windows, read in order
    interrupt_in_process("train_gpt.py", streamed_args(streamed, tmp_path / "resumed"), 8)
    run_in_process("train_gpt.py", streamed_args(streamed, tmp_path / "resumed", "--resume_from_checkpoint", "latest"))
    assert_same_weights(tmp_path / "reference", tmp_path / "resumed")
    # resumed from its last checkpoint, a finished run trains no further step
    again = run_in_process(
        "train_gpt.py", streamed_args(streamed, tmp_path / "resumed", "--resume_from_checkpoint", "latest")
    )
    assert again["step"] == 12
    assert_same_weights(tmp_path / "reference", tmp_path / "resumed")
    # the stream read again from the start: consecutive windows of the rows joined by line ends, and after 8 steps'
    # windows exactly the position checkpoint-8 saved
    from hfnets import CharGptTokenizer
    from hfnets.training.text_data import load_streamed_text

    stream, _, tokenizer, _ = load_streamed_text(
        str(streamed[0]), None, None, None, None, str(streamed[1]), CharGptConfig, lambda size: CharGptConfig(), 32, 8
    )
    assert isinstance(tokenizer, CharGptTokenizer)
    windows = stream.take(8 * 4)
    assert tokenizer.decode(windows[:3].flatten()) == "\n".join((VERSE * 40).splitlines())[: 3 * 32]
    position = stream.state_dict()
    assert (position["rows_read"], position["buffers"]) == (state["rows_read"], state["buffers"])


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--streaming reads the text once, as it trains"),  # no tokenizer given
    ],
)
def test_streaming_without_a_tokenizer_says_what_to_give(streamed, tmp_path, extra, message):
    args = streamed_args(streamed, tmp_path / "out", *extra)
    args.remove("--tokenizer_name")
    args.remove(str(streamed[1]))
    with pytest.raises(ValueError, match=message):
        run_in_process("train_gpt.py", args)


def test_streaming_is_for_datasets_in_consecutive_windows(train_gpt, text_files, tmp_path, capsys):
    train, validation = text_files
    for extra in (["--train_file", str(train)], ["--dataset_name", "x", "--sampling", "packed"]):
        with pytest.raises(SystemExit) as error:
            train_gpt.parse_args(["--streaming", "--output_dir", str(tmp_path), *extra])
        assert error.value.code == 2 and "--streaming streams a dataset" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_of_a_streamed_run_resumes_to_the_same_weights(streamed, tmp_path):
    def args_for(folder):
        return streamed_args(streamed, folder, "--max_train_steps", "30", "--checkpointing_steps", "5")

    assert_same_weights(*killed_and_uninterrupted("train_gpt.py", args_for, tmp_path, kills=2))
