"""Command-line flags shared by the training scripts, named as in the Hugging Face `*_no_trainer.py` examples: the
groups a script opts into (`add_training_args`, `add_text_args`) and the checks they take (`validate_training_args`).
The scripts read the flags themselves and pass plain values on to `hfnets.training` and `hfnets.hub`, which know
nothing of flag names.
"""

import argparse
import math
import os

from transformers import SchedulerType

MIXED_PRECISION_CHOICES = ("auto", "no", "fp16", "bf16")
REPORT_TO_CHOICES = ("tensorboard", "none")


def add_training_args(
    parser: argparse.ArgumentParser,
    *,
    dataset_name: str,
    learning_rate: float,
    per_device_train_batch_size: int,
    num_train_epochs: int,
    lr_scheduler_type: str | None = "linear",
    weight_decay: float | None = 0.0,
    sample_limits: bool = True,
    evaluation_batches: bool = True,
    gradient_accumulation: bool = True,
    per_device_eval_batch_size: int = 1024,
) -> None:
    """Add the training flags; each family passes its own defaults, and leaves out the flags it has no use for (so
    that they are refused by argparse rather than accepted and ignored):

    - `lr_scheduler_type=None`: no learning-rate schedule (no --lr_scheduler_type, --num_warmup_steps);
    - `weight_decay=None`: no --weight_decay;
    - `sample_limits=False`: no --max_train_samples / --max_eval_samples (data that is not a list of examples);
    - `evaluation_batches=False`: no --per_device_eval_batch_size / --max_eval_samples (evaluation that does not
      go through the evaluation split in batches);
    - `gradient_accumulation=False`: no --gradient_accumulation_steps (a loop that steps every batch).
    """
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset_name",
        type=str,
        default=dataset_name,
        help="A Hub dataset id or a local folder in the Hub repository layout, loaded with datasets.load_dataset.",
    )
    data.add_argument("--dataset_config_name", type=str, default=None, help="The dataset's configuration name.")
    data.add_argument(
        "--eval_split",
        type=str,
        default=None,
        help="Split to evaluate on (default: test, else validation, else 10%% of train held out).",
    )
    if sample_limits:
        data.add_argument(
            "--max_train_samples", type=int, default=None, help="Use only the first N training examples (quick runs)."
        )
    if sample_limits and evaluation_batches:
        data.add_argument(
            "--max_eval_samples", type=int, default=None, help="Use only the first N evaluation examples (quick runs)."
        )

    training = parser.add_argument_group("training")
    training.add_argument(
        "--output_dir", type=str, required=True, help="Where the model, checkpoints, logs and results are written."
    )
    training.add_argument(
        "--overwrite_output_dir",
        action="store_true",
        help="Start over in an --output_dir that holds another model or an earlier run's checkpoints.",
    )
    training.add_argument("--num_train_epochs", type=int, default=num_train_epochs, help="Number of epochs.")
    training.add_argument(
        "--max_train_steps",
        type=int,
        default=None,
        help="Total optimizer steps; overrides --num_train_epochs when given.",
    )
    training.add_argument(
        "--per_device_train_batch_size",
        type=int,
        default=per_device_train_batch_size,
        help="Batch size per process (the global batch is this x processes x accumulation steps).",
    )
    if evaluation_batches:
        training.add_argument(
            "--per_device_eval_batch_size",
            type=int,
            default=per_device_eval_batch_size,
            help="Evaluation batch size per process.",
        )
    training.add_argument("--learning_rate", type=float, default=learning_rate, help="Peak learning rate (AdamW).")
    if weight_decay is not None:
        training.add_argument("--weight_decay", type=float, default=weight_decay, help="AdamW weight decay.")
    if lr_scheduler_type is not None:
        training.add_argument(
            "--lr_scheduler_type",
            default=lr_scheduler_type,
            choices=[schedule.value for schedule in SchedulerType],
            help="Learning-rate schedule (transformers.get_scheduler).",
        )
        training.add_argument("--num_warmup_steps", type=int, default=0, help="Warm-up steps of the schedule.")
    if gradient_accumulation:
        training.add_argument(
            "--gradient_accumulation_steps", type=int, default=1, help="Batches accumulated per optimizer step."
        )
    training.add_argument("--seed", type=int, default=42, help="Seed for initialization, shuffling and dropout.")
    training.add_argument(
        "--mixed_precision",
        type=str,
        default="auto",
        choices=MIXED_PRECISION_CHOICES,
        help="auto (default): what `accelerate launch --mixed_precision`/`accelerate config` chose, else bf16 where "
        "the hardware computes it natively (CUDA GPUs with bf16, CPUs with AVX512-BF16 or AMX) and no (float32) "
        "elsewhere. `no` forces float32.",
    )

    training.add_argument(
        "--torch_compile",
        action="store_true",
        help="Compile the model with torch.compile (inductor): faster steps after a compile of a minute or so.",
    )
    training.add_argument(
        "--no_tf32", action="store_true", help="On CUDA, keep float32 matrix products in full float32 (no TF32)."
    )

    checkpoints = parser.add_argument_group("checkpoints")
    checkpoints.add_argument(
        "--checkpointing_steps",
        type=str,
        default=None,
        help="Save a resumable checkpoint every N optimizer steps, or 'epoch' at the end of each epoch.",
    )
    checkpoints.add_argument(
        "--checkpoints_total_limit", type=int, default=None, help="Keep only the newest N checkpoints."
    )
    checkpoints.add_argument(
        "--resume_from_checkpoint",
        type=str,
        default=None,
        help="A checkpoint folder to resume from, or 'latest' for the newest one in --output_dir.",
    )

    logging_group = parser.add_argument_group("logging and sharing")
    logging_group.add_argument(
        "--report_to",
        type=str,
        default="tensorboard",
        choices=REPORT_TO_CHOICES,
        help="Experiment tracker (logs under <output_dir>/runs).",
    )
    logging_group.add_argument("--push_to_hub", action="store_true", help="Upload the trained model to the Hub.")
    logging_group.add_argument(
        "--hub_model_id",
        type=str,
        default=None,
        help="Hub repository id to push to (default: the output folder's name).",
    )
    logging_group.add_argument("--hub_token", type=str, default=None, help="Hub token (default: the saved login).")
    logging_group.add_argument("--hub_private_repo", action="store_true", help="Create the Hub repository as private.")
    logging_group.add_argument(
        "--card_dataset_id",
        type=str,
        default=None,
        help="Hub dataset id named in the model card when --dataset_name is a local copy (default: --dataset_name).",
    )


def validate_training_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject impossible combinations with argparse's usage message, before anything is loaded."""
    if hasattr(args, "image_column") and args.streaming and args.max_train_steps is None:  # the image scripts'
        parser.error("--streaming reads the images once, as training goes: give the run's length, --max_train_steps.")
    for name in (
        "num_train_epochs",
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
    ):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}.")
    for name in ("max_train_steps", "max_train_samples", "max_eval_samples", "checkpoints_total_limit"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}.")
    if not math.isfinite(args.learning_rate) or args.learning_rate <= 0:
        parser.error(f"--learning_rate must be a finite number > 0, got {args.learning_rate}.")
    for name in ("weight_decay", "min_learning_rate"):  # the other rates a script may offer
        value = getattr(args, name, None)
        if value is not None and (not math.isfinite(value) or value < 0):
            parser.error(f"--{name} must be a finite number >= 0, got {value}.")
    if getattr(args, "num_warmup_steps", 0) < 0:
        parser.error(f"--num_warmup_steps must be >= 0, got {args.num_warmup_steps}.")
    if args.checkpointing_steps not in (None, "epoch"):
        if not (args.checkpointing_steps.isdigit() and int(args.checkpointing_steps) > 0):
            parser.error(
                f"--checkpointing_steps must be a positive integer or 'epoch', got {args.checkpointing_steps!r}."
            )
        args.checkpointing_steps = int(args.checkpointing_steps)
    if args.resume_from_checkpoint not in (None, "latest") and not os.path.isdir(args.resume_from_checkpoint):
        parser.error(
            f"--resume_from_checkpoint {args.resume_from_checkpoint!r} is not a folder; pass a checkpoint folder "
            "(<output_dir>/checkpoint-N) or 'latest'."
        )
    if args.resume_from_checkpoint is not None and args.overwrite_output_dir:
        parser.error("--resume_from_checkpoint continues a run and --overwrite_output_dir starts over: pick one.")


def add_image_args(parser: argparse.ArgumentParser, *, folders: bool = False):
    """The flags of the image scripts: which columns hold the images and labels, and with `folders`, image folders to
    train on instead of a dataset. Returns the group "images", for the script's own flags."""
    images = parser.add_argument_group("images")
    if folders:
        images.add_argument(
            "--train_dir",
            type=str,
            default=None,
            help="An image folder to train on: one subfolder of images per class.",
        )
        images.add_argument(
            "--validation_dir",
            type=str,
            default=None,
            help="An image folder to evaluate on, with the same class subfolders (default: 10%% of --train_dir).",
        )
    images.add_argument("--image_column", type=str, default=None, help="Image column (default: the Image feature).")
    images.add_argument(
        "--label_column", type=str, default=None, help="Label column (default: the ClassLabel feature)."
    )
    images.add_argument(
        "--memory_budget",
        type=memory_size,
        default=None,
        help="Memory the decoded images may take, as 4GB, 512MB or a number of GB: a set that fits is decoded once "
        "and held in memory (fastest), a larger one is decoded batch by batch as it is read (default: auto, a "
        "quarter of the memory this process may use: the container's limit where one is set, else the machine's).",
    )
    images.add_argument(
        "--streaming",
        action="store_true",
        help="Stream the dataset as training reads it, for datasets too large to download: nothing is stored, the "
        "examples are read in their order once (needs --max_train_steps), and checkpoints save the position.",
    )
    images.add_argument(
        "--dataloader_num_workers",
        type=int,
        default=None,
        help="Processes that decode the batches when images are decoded batch by batch (default: half the CPUs, at "
        "least 1, at most 8; 0 decodes in the training process).",
    )
    return images


def memory_size(value: str) -> float | None:
    """A --memory_budget: "auto" (None), or bytes from "4GB", "512MB", "1.5" (GB)."""
    text = value.strip().upper()
    if text == "AUTO":
        return None
    units = {"TB": 2**40, "GB": 2**30, "MB": 2**20, "KB": 2**10, "B": 1}
    unit = next((u for u in units if text.endswith(u)), None)
    number = text[: -len(unit)] if unit else text
    try:
        size = float(number) * units[unit or "GB"]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size: give auto, 4GB, 512MB or a GB count.") from None
    if not math.isfinite(size) or size < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: the memory budget must be a size of at least 0.")
    return size


IMAGE_DATA_FLAGS = (
    "dataset_name",
    "dataset_config_name",
    "eval_split",
    "max_train_samples",
    "max_eval_samples",
    "image_column",
    "label_column",
    "train_dir",
    "validation_dir",
    "streaming",
)
TEXT_DATA_FLAGS = (
    "dataset_name",
    "dataset_config_name",
    "train_file",
    "validation_file",
    "text_column",
    "eval_split",
    "model_name_or_path",
    "tokenizer_name",
    "preprocessing_num_workers",
)
STREAMED_TEXT_FLAGS = (
    "dataset_name",
    "dataset_config_name",
    "text_column",
    "eval_split",
    "model_name_or_path",
    "tokenizer_name",
)


def data_flags(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    """The values of the data flags `names` (`IMAGE_DATA_FLAGS`, `TEXT_DATA_FLAGS` or `STREAMED_TEXT_FLAGS`), as
    keyword arguments of `load_image_splits`, `load_text_and_tokenizer` or `load_streamed_text`; a flag the script
    does not offer is None."""
    return {name: getattr(args, name, None) for name in names}


def add_judge_args(evaluation) -> None:
    """The flags of the generative scripts' judge: a trained classifier that scores the final samples."""
    evaluation.add_argument(
        "--judge_model",
        type=str,
        default=None,
        help="A trained classifier (folder or Hub id) that scores the final samples: conditional accuracy and "
        "Fréchet distance go into all_results.json and the model card.",
    )
    evaluation.add_argument("--num_eval_samples", type=int, default=1000, help="Samples the judge scores.")


def add_text_args(parser: argparse.ArgumentParser, *, block_size_help: str, block_size: int | None, example: str):
    """The flags of the language-model scripts: the text (a dataset or files), the model to start from or the
    `--config_overrides` of a new one, and the tokenizer. Returns the groups "text" and "model", for the script's own
    flags."""
    text = parser.add_argument_group("text")
    text.add_argument("--train_file", type=str, default=None, help="A text file to train on instead of a dataset.")
    text.add_argument("--validation_file", type=str, default=None, help="A text file to evaluate on.")
    text.add_argument("--text_column", type=str, default=None, help="Text column (default: `text`).")
    text.add_argument("--block_size", type=int, default=block_size, help=block_size_help)
    text.add_argument(
        "--streaming",
        action="store_true",
        help="Stream the dataset as training reads it, for datasets too large to download: nothing is stored, rows "
        "are read in their order, and checkpoints save the position (needs --tokenizer_name or --model_name_or_path).",
    )
    text.add_argument(
        "--preprocessing_num_workers",
        type=int,
        default=None,
        help="Processes that tokenize the text the first time it is read (default: one per CPU, at most 8, for a "
        "text over 16 MB; the tokens are then kept on disk for later runs).",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model_name_or_path", type=str, default=None, help="Continue from a saved model.")
    model.add_argument(
        "--tokenizer_name",
        type=str,
        default=None,
        help="An existing tokenizer (folder or Hub id) instead of a character vocabulary built from the text.",
    )
    model.add_argument(
        "--config_overrides", type=str, default=None, help=f'Config values for a new model, e.g. "{example}".'
    )
    return text, model
