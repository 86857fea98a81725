#!/usr/bin/env python
"""Train the character-level recurrent language model (LSTM or GRU) with Accelerate, as Karpathy's char-rnn does.

Truncated backpropagation through time: the training text is cut into one contiguous stream per row of the global
batch, each step reads the next --block_size characters of every stream, and the recurrent state carries over from
one step to the next (detached, so gradients flow back --block_size characters). The same script runs on CPU, one
GPU or many, with or without mixed precision, and resumes where it stopped (the carried state included):

    # Tiny Shakespeare, a 2 x 512 LSTM
    accelerate launch scripts/train_rnn.py --dataset_name karpathy/tiny_shakespeare --output_dir char-rnn
    # a GRU, on your own text
    accelerate launch scripts/train_rnn.py --train_file my.txt --output_dir my-rnn --config_overrides "rnn_type=gru"

It writes the model and its tokenizer (the GPT family's character tokenizer) with `save_pretrained` (loadable with
or without hfnets installed), `all_results.json` with the validation loss and perplexity, text samples, and a model
card `README.md`.
"""

import argparse
import sys
import time

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin
from torch.nn import functional as F
from transformers import DynamicCache

from hfnets import CharRnnConfig, CharRnnForCausalLM, hub
from hfnets.training.accelerator import (
    check_distributed,
    device_synchronize,
    resolve_mixed_precision,
    set_up_run,
    unwrap,
)
from hfnets.training.checkpointing import resume_run
from hfnets.training.flags import (
    STREAMED_TEXT_FLAGS,
    TEXT_DATA_FLAGS,
    add_text_args,
    add_training_args,
    data_flags,
    validate_training_args,
)
from hfnets.training.optimization import build_lr_scheduler, build_optimizer
from hfnets.training.output_dir import prepare_output_dir, start_tracking
from hfnets.training.results import describe_hardware, language_model_metrics, run_results
from hfnets.training.run import end_run, run_main, training_progress_bar
from hfnets.training.sampling import sample_text
from hfnets.training.text_data import (
    as_long,
    load_streamed_text,
    load_text_and_tokenizer,
    new_config_from_overrides,
    save_text_model,
)

logger = get_logger(__name__)

PROJECT_NAME = "train_rnn"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets character-level RNN (LSTM or GRU) with Accelerate.")
    add_training_args(
        parser,
        dataset_name="karpathy/tiny_shakespeare",
        learning_rate=2e-3,
        per_device_train_batch_size=64,
        num_train_epochs=10,
        lr_scheduler_type="cosine_with_min_lr",
        weight_decay=0.0,
        sample_limits=False,  # one long text, cut into streams: --max_train_steps bounds a quick run
        evaluation_batches=False,  # evaluation reads the whole validation text as --eval_streams streams
        gradient_accumulation=False,  # the state carries from one batch to the next: each batch is a step
    )
    add_text_args(
        parser,
        block_size=64,
        block_size_help="Characters per step and stream: how far back gradients flow (the state itself carries on).",
        example="rnn_type=gru,hidden_size=256,num_layers=3,dropout=0.3",
    )
    optim = parser.add_argument_group("optimization")
    optim.add_argument("--min_learning_rate", type=float, default=1e-4, help="Floor of the cosine schedule.")
    optim.add_argument("--adam_beta1", type=float, default=0.9, help="AdamW beta1.")
    optim.add_argument("--adam_beta2", type=float, default=0.99, help="AdamW beta2.")
    optim.add_argument("--max_grad_norm", type=float, default=5.0, help="Gradient clipping norm (0: off; char-rnn 5).")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--eval_steps", type=int, default=500, help="Evaluate (and sample) every N steps.")
    evaluation.add_argument(
        "--eval_streams",
        type=int,
        default=64,
        help="The validation text is read as this many contiguous streams, shared out among the processes.",
    )
    evaluation.add_argument(
        "--max_eval_windows",
        type=int,
        default=500,
        help="Evaluate on at most the first N windows of each validation stream (0: the whole stream).",
    )
    evaluation.add_argument("--sample_prompt", type=str, default="\n", help="Prompt of the text samples.")
    evaluation.add_argument("--sample_length", type=int, default=200, help="Tokens per text sample.")
    parser.set_defaults(num_warmup_steps=100)
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    if args.train_file is None and args.validation_file is not None:
        parser.error("--validation_file needs --train_file.")
    if args.block_size < 1:
        parser.error(f"--block_size must be >= 1, got {args.block_size}.")
    if args.eval_steps < 1 or args.eval_streams < 1 or args.sample_length < 0 or args.max_eval_windows < 0:
        parser.error("--eval_steps and --eval_streams must be >= 1, and --sample_length and --max_eval_windows >= 0.")
    if args.streaming and (args.train_file is not None or args.max_train_steps is None or args.max_eval_windows == 0):
        parser.error(
            "--streaming streams a dataset (--dataset_name; a --train_file is read piece by piece already) once, for "
            "--max_train_steps (a stream has no epochs), evaluating on the first --max_eval_windows windows (> 0)."
        )
    return args


def build_model_config(args, vocab_size: int) -> CharRnnConfig:
    """A new model's config: the defaults, then --config_overrides; validated."""
    return new_config_from_overrides(CharRnnConfig(vocab_size=vocab_size), args.config_overrides)


def streams(tokens, num_streams: int, block_size: int, name: str):
    """`(rows, steps)`: the token ids (a tensor, or the token store's array: rows are then views of it, read window
    by window) cut into `num_streams` contiguous rows of `steps * block_size + 1` tokens (the +1 is the last step's
    target), as char-rnn lays out its batches. The tail that does not fill a step is dropped."""
    steps = (len(tokens) // num_streams - 1) // block_size
    if steps < 1:
        raise ValueError(
            f"The {name} text has {len(tokens)} tokens (characters): too few for {num_streams} streams of one window "
            f"of {block_size} tokens. Use more text, fewer streams (batch size, --eval_streams) or a smaller "
            "--block_size."
        )
    length = len(tokens) // num_streams
    rows = tokens[: num_streams * length].reshape(num_streams, length)
    return rows[:, : steps * block_size + 1], steps


def detached(cache: DynamicCache | None, config: CharRnnConfig) -> DynamicCache | None:
    """A new cache holding `cache`'s states without their history: the next step's gradients stop here."""
    if cache is None:
        return None
    carried = DynamicCache(config=config)
    for index, layer in enumerate(cache.layers):
        for slot, state in enumerate(layer.recurrent_states.values()):
            carried.update_recurrent_state(state.detach(), index, slot)
    return carried


class CarriedState:
    """The state carried between training steps, made part of every checkpoint (`register_for_checkpointing`), so a
    resumed run continues with the state it would have had. Each process carries the state of its own streams: the
    checkpoint holds all of them (gathered), and each process takes its rows back on resume."""

    def __init__(self, accelerator, config: CharRnnConfig, rows_per_process: int):
        self.accelerator, self.config, self.rows = accelerator, config, rows_per_process
        self.cache: DynamicCache | None = None

    def state_dict(self) -> dict:
        if self.cache is None:  # the first step of an epoch: nothing to carry (every process is at the same step)
            return {"states": None}
        states = [
            [self.accelerator.gather(state.contiguous()).cpu() for state in layer.recurrent_states.values()]
            for layer in self.cache.layers
        ]
        return {"states": states}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict["states"] is None:
            self.cache = None
            return
        start = self.accelerator.process_index * self.rows
        self.cache = DynamicCache(config=self.config)
        for index, layer in enumerate(state_dict["states"]):
            for slot, state in enumerate(layer):
                own = state[start : start + self.rows].to(self.accelerator.device)
                self.cache.update_recurrent_state(own, index, slot)


@torch.no_grad()
def evaluate(model, eval_rows: torch.Tensor, eval_steps: int, block_size: int, accelerator) -> dict[str, float]:
    """Mean next-token loss over the whole validation text: each process reads its share of the streams window by
    window, carrying the state, so every token is scored once with everything before it in its stream as context."""
    model.eval()
    rows = eval_rows[accelerator.process_index :: accelerator.num_processes]
    loss_sum = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    cache = None
    for step in range(eval_steps if len(rows) else 0):
        window = as_long(rows[:, step * block_size : (step + 1) * block_size + 1]).to(accelerator.device)
        outputs = model(input_ids=window[:, :-1], cache=cache, use_cache=True)
        cache = outputs.cache
        loss_sum += F.cross_entropy(outputs.logits.float().flatten(0, 1), window[:, 1:].flatten(), reduction="sum")
    model.train()
    loss_sum = accelerator.reduce(loss_sum, "sum")
    count = eval_rows.shape[0] * eval_steps * block_size
    return language_model_metrics(loss_sum, count)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
    # Copied from scripts.train_mlp.main step 0 with args.gradient_accumulation_steps->1, train_mlp->train_rnn
    hub.check_hub_access(args.push_to_hub, args.hub_token)  # no usable token: fail now, not after training
    accelerator = Accelerator(
        gradient_accumulation_steps=1,
        mixed_precision=resolve_mixed_precision(args.mixed_precision),
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(
            args.output_dir, logging_dir=f"{args.output_dir}/runs", total_limit=args.checkpoints_total_limit
        ),
        # shuffles seeded by (seed, epoch): a run resumed mid-epoch sees the order an uninterrupted one does
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
        dynamo_plugin=TorchDynamoPlugin(backend="inductor") if args.torch_compile else None,
    )
    set_up_run(accelerator, args.seed, tf32=not args.no_tf32)
    check_distributed(accelerator, "scripts/train_rnn.py", sharded_weights=False)

    # 1. Text: the tokenizer (built or loaded), and the text tokenized once into the token store (reused by later
    # runs on the same text and tokenizer; memory does not grow with the corpus), or streamed as training reads it.
    rows_per_process = args.per_device_train_batch_size
    if args.streaming:  # the rows are dealt out to the streams in turn; each draw is the next window of every one
        train_stream, eval_tokens, tokenizer, config = load_streamed_text(
            **data_flags(args, STREAMED_TEXT_FLAGS),
            config_class=CharRnnConfig,
            new_config=lambda vocab_size: build_model_config(args, vocab_size),
            block_size=args.block_size,
            eval_windows=args.eval_streams * args.max_eval_windows + 1,
            num_streams=rows_per_process * accelerator.num_processes,
            window_overlap=1,
        )
        train_tokens = None  # read as training goes
    else:
        train_tokens, eval_tokens, tokenizer, config = load_text_and_tokenizer(
            accelerator,
            config_class=CharRnnConfig,
            new_config=lambda vocab_size: build_model_config(args, vocab_size),
            **data_flags(args, TEXT_DATA_FLAGS),
        )
    config.check_tokenizer(tokenizer)  # a --tokenizer_name of another vocabulary than the model's is refused
    config.vocab_fingerprint = CharRnnConfig.fingerprint(tokenizer.get_vocab())
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, config.model_type, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))

    # 2. One contiguous stream per row of the global batch, read from the store (or the dataset) window by window.
    own = slice(accelerator.process_index * rows_per_process, (accelerator.process_index + 1) * rows_per_process)
    if args.streaming:
        steps_per_epoch = args.max_train_steps  # one pass
        accelerator.register_for_checkpointing(train_stream)  # the position in the stream is part of a checkpoint
    else:
        train_rows, steps_per_epoch = streams(
            train_tokens, rows_per_process * accelerator.num_processes, args.block_size, "training"
        )
        train_rows = train_rows[own]
    eval_rows, eval_steps = streams(eval_tokens, args.eval_streams, args.block_size, "validation")
    if 0 < args.max_eval_windows < eval_steps:  # a large corpus: the first windows of each stream
        eval_steps = args.max_eval_windows

    # 3. Model and optimizer.
    if args.model_name_or_path is not None:
        model = CharRnnForCausalLM.from_pretrained(args.model_name_or_path)
    else:
        model = CharRnnForCausalLM(config)
    optimizer = build_optimizer(
        accelerator,
        model.parameters(),
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        weight_decay=args.weight_decay,
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    max_train_steps = args.max_train_steps or args.num_train_epochs * steps_per_epoch
    schedule_kwargs = {"min_lr": args.min_learning_rate} if args.lr_scheduler_type == "cosine_with_min_lr" else {}
    lr_scheduler = build_lr_scheduler(
        accelerator, optimizer, args.lr_scheduler_type, args.num_warmup_steps, max_train_steps, **schedule_kwargs
    )
    carried = CarriedState(accelerator, unwrap(accelerator, model).config, rows_per_process)
    accelerator.register_for_checkpointing(carried)

    # 4. Resume: model, optimizer, schedule, RNG and carried state; the step says where in the streams we are.
    # What a checkpoint must match to be resumed: the model's configuration and how the data is batched (with the
    # processes and the gradient accumulation steps, which resume_run adds).
    batching = {
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "block_size": args.block_size,
        "train_tokens": "streamed" if args.streaming else len(train_tokens),
    }
    resumed, checkpoint = resume_run(  # checkpoint(step, train_runtime=seconds): the weights are checked first
        accelerator, args.resume_from_checkpoint, [model], batching, steps_per_epoch
    )
    completed_steps = resumed.completed_steps
    checkpointing_steps = args.checkpointing_steps  # an int, 'epoch' or None

    logger.info("***** Running training *****")
    training_tokens = "streamed" if args.streaming else f"{len(train_tokens):,}"
    logger.info(f"  Training tokens = {training_tokens}, evaluation tokens = {len(eval_tokens):,}")
    logger.info(f"  Parameters = {unwrap(accelerator, model).num_parameters():,}")
    logger.info(
        f"  {rows_per_process * accelerator.num_processes} streams x {args.block_size} tokens per step, "
        f"{steps_per_epoch} steps per epoch, {max_train_steps} steps"
    )
    progress_bar = training_progress_bar(accelerator, max_train_steps, completed_steps)

    # 5. The training loop: each step reads the next window of every stream, starting from the carried state; each
    # epoch starts the streams (and the state) over. Evaluate and sample every --eval_steps and at the end.
    train_time = resumed.train_runtime  # seconds trained before a resume count too
    metrics: dict[str, float] = {}
    samples: list[str] = []
    loss_sum = torch.zeros((), device=accelerator.device)
    num_batches = 0
    model.train()
    start = time.perf_counter()
    while completed_steps < max_train_steps:
        step_in_epoch = completed_steps % steps_per_epoch
        if step_in_epoch == 0:
            carried.cache = None
        if args.streaming:
            window = train_stream.draw()
            if window is None:
                logger.warning(f"The streamed dataset ended after {completed_steps} steps.")
                break
            window = window[own]
        else:
            window = train_rows[:, step_in_epoch * args.block_size : (step_in_epoch + 1) * args.block_size + 1]
        window = as_long(window).to(accelerator.device)
        outputs = model(input_ids=window[:, :-1], cache=carried.cache, use_cache=True)
        loss = F.cross_entropy(outputs.logits.float().flatten(0, 1), window[:, 1:].flatten())
        accelerator.backward(loss)
        if args.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()
        carried.cache = detached(outputs.cache, carried.config)
        loss_sum += loss.detach()  # summed on the device: no host sync per step
        num_batches += 1
        completed_steps += 1
        progress_bar.update(1)
        if completed_steps % args.eval_steps == 0 or completed_steps == max_train_steps:
            device_synchronize(accelerator)
            train_time += time.perf_counter() - start
            metrics = evaluate(model, eval_rows, eval_steps, args.block_size, accelerator)
            metrics["train_loss"] = accelerator.reduce(loss_sum / max(num_batches, 1), "mean").item()
            loss_sum.zero_()
            num_batches = 0
            sample = sample_text(
                unwrap(accelerator, model), tokenizer, args.sample_prompt, args.sample_length, args.seed
            )
            samples.append(f"step {completed_steps}:\n{sample}")
            logger.info(
                f"step {completed_steps} (epoch {completed_steps / steps_per_epoch:.2f}): train_loss "
                f"{metrics['train_loss']:.4f}, eval_loss {metrics['eval_loss']:.4f}, "
                f"perplexity {metrics['perplexity']:.2f}\n{sample}"
            )
            accelerator.log({**metrics, "learning_rate": lr_scheduler.get_last_lr()[0]}, step=completed_steps)
            start = time.perf_counter()
        end_of_epoch = completed_steps % steps_per_epoch == 0
        if (isinstance(checkpointing_steps, int) and completed_steps % checkpointing_steps == 0) or (
            checkpointing_steps == "epoch" and end_of_epoch
        ):
            if end_of_epoch:
                carried.cache = None  # the next epoch starts the streams over
            checkpoint(completed_steps, train_runtime=train_time + time.perf_counter() - start)
    device_synchronize(accelerator)
    train_time += time.perf_counter() - start
    progress_bar.close()
    if "eval_loss" not in metrics:  # resumed from a checkpoint taken at the very end: just evaluate
        metrics = evaluate(model, eval_rows, eval_steps, args.block_size, accelerator)
    metrics["epochs"] = round(completed_steps / steps_per_epoch, 2)
    # every step reads --block_size tokens of each of this process's streams
    tokens_seen = (completed_steps - resumed.completed_steps) * rows_per_process * args.block_size

    # 6. Results, saved model and tokenizer, card and upload.
    # Copied from scripts.train_gpt.main step 7
    seen = ("tokens", tokens_seen, train_time - resumed.train_runtime)  # counted in this launch's seconds
    results = run_results(
        accelerator,
        [model],
        metrics,
        completed_steps,
        train_time,
        seen,
        num_parameters=unwrap(accelerator, model).num_parameters(),
    )
    # every process takes part: under FSDP this gathers the shards into full weights
    state_dict = accelerator.get_state_dict(model)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = unwrap(accelerator, model)
        command = argv if argv is not None else sys.argv[1:]
        card = build_model_card(args, results, unwrapped, accelerator, command, samples)
        # the samples, the card and the results go in with the model, in one swap
        save_text_model(args.output_dir, unwrapped, tokenizer, state_dict, samples, hub.run_files(results, card))
        hub.publish_run(
            args.output_dir, results, card, args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo
        )
        accelerator.print(
            f"validation loss {results['eval_loss']:.4f} (perplexity {results['perplexity']:.2f}) after "
            f"{results['step']} steps; model saved to {args.output_dir}"
        )
    end_run(accelerator, model, optimizer)
    return results


# Copied from scripts.train_gpt.language_model_card_parts
def language_model_card_parts(args, results, accelerator, samples: list[str], tags: list[str]):
    """What the GPT's and the RNN's cards share: the metadata (`tags`, the dataset, the measured loss and perplexity)
    and the values that say where the model and its data are, what it measured and how it was trained."""
    dataset_id = hub.card_dataset_id(args.dataset_name, args.card_dataset_id, args.train_file)
    split = args.eval_split or "validation"
    repo_id = hub.default_repo_id(args.hub_model_id, args.output_dir)
    card_data = hub.card_data(
        "transformers",
        "text-generation",
        tags,
        dataset_id,
        repo_id,
        hub.card_base_model(args.model_name_or_path),
        {"loss": results["eval_loss"], "perplexity": results["perplexity"]},
        split=split,
    )
    values = {
        "repo_id": repo_id,
        "dataset_id": dataset_id,
        "eval_split": split,
        "eval_loss": f"{results['eval_loss']:.4f}",
        "perplexity": f"{results['perplexity']:.2f}",
        "eval_tokens": f"{results['eval_tokens']:,}",
        "steps": results["step"],
        "learning_rate": args.learning_rate,
        "min_learning_rate": args.min_learning_rate,
        "num_warmup_steps": args.num_warmup_steps,
        "weight_decay": args.weight_decay,
        "betas": f"({args.adam_beta1}, {args.adam_beta2})",
        "max_grad_norm": args.max_grad_norm,
        "lr_scheduler_type": args.lr_scheduler_type,
        "seed": args.seed,
        "mixed_precision": results["mixed_precision"],
        "hardware": describe_hardware(accelerator),
        "train_runtime": f"{results['train_runtime']:.1f}",
        "sample": samples[-1].split("\n", 1)[-1] if samples else "",
    }
    return card_data, values


def build_model_card(args, results, model, accelerator, command: list[str], samples: list[str]):
    """The model card, filled from this run's flags and measured metrics."""
    config = model.config
    tags = ["hfnets", "rnn", config.rnn_type, "character-level", "text-generation"]
    card_data, values = language_model_card_parts(args, results, accelerator, samples, tags)
    return hub.render_model_card(
        "rnn",
        card_data,
        rnn_type=config.rnn_type.upper(),
        num_layers=config.num_layers,
        hidden_size=config.hidden_size,
        vocab_size=config.vocab_size,
        dropout=config.dropout,
        num_parameters=f"{model.num_parameters():,}",
        eval_streams=args.eval_streams,
        epochs=results["epochs"],
        streams=args.per_device_train_batch_size * accelerator.num_processes,
        block_size=args.block_size,
        command=hub.training_command("scripts/train_rnn.py", command),
        **values,
    )


if __name__ == "__main__":
    run_main(main)
