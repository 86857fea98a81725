#!/usr/bin/env python
"""Train the GPT-style character-level language model with Accelerate (nanoGPT's recipe, the Hugging Face way).

The same script runs on CPU, one GPU or many, with or without mixed precision, and resumes where it stopped:

    # nanoGPT's CPU configuration on Tiny Shakespeare (about 2 minutes on 2 cores)
    accelerate launch scripts/train_gpt.py --dataset_name karpathy/tiny_shakespeare --output_dir char-gpt
    # nanoGPT's GPU configuration
    accelerate launch scripts/train_gpt.py --output_dir char-gpt-gpu --block_size 256 \
        --config_overrides "n_layer=6,n_head=6,n_embd=384,dropout=0.2" --per_device_train_batch_size 64 \
        --max_train_steps 5000 --num_warmup_steps 100 --mixed_precision bf16
    # your own text
    accelerate launch scripts/train_gpt.py --train_file my.txt --validation_file my_val.txt --output_dir my-gpt

It writes the model and its tokenizer with `save_pretrained` (loadable with or without hfnets installed),
`all_results.json` with the validation loss and perplexity, text samples, and a model card `README.md`.
"""

import argparse
import sys
import time

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import ProjectConfiguration, TorchDynamoPlugin
from torch.nn import functional as F

from hfnets import CharGptConfig, CharGptForCausalLM, hub
from hfnets.training.accelerator import (
    check_distributed,
    device_synchronize,
    resolve_mixed_precision,
    set_up_run,
    unwrap,
)
from hfnets.training.checkpointing import resume_run
from hfnets.training.data import batch_dataloader, keep_on_device
from hfnets.training.flags import (
    STREAMED_TEXT_FLAGS,
    TEXT_DATA_FLAGS,
    add_text_args,
    add_training_args,
    data_flags,
    validate_training_args,
)
from hfnets.training.optimization import build_lr_scheduler, build_optimizer, training_length
from hfnets.training.output_dir import prepare_output_dir, start_tracking
from hfnets.training.results import describe_hardware, language_model_metrics, run_results
from hfnets.training.run import end_run, run_main, training_progress_bar
from hfnets.training.sampling import sample_text
from hfnets.training.text_data import (
    StreamedBatches,
    TokenWindowDataset,
    load_streamed_text,
    load_text_and_tokenizer,
    new_config_from_overrides,
    packed_windows,
    random_windows,
    save_text_model,
)

logger = get_logger(__name__)

PROJECT_NAME = "train_gpt"
# nanoGPT's CPU run: 2000 iterations of random windows.
DEFAULT_RANDOM_STEPS = 2000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the hfnets character-level GPT with Accelerate.")
    add_training_args(
        parser,
        dataset_name="karpathy/tiny_shakespeare",
        learning_rate=1e-3,
        per_device_train_batch_size=12,
        num_train_epochs=1,
        lr_scheduler_type="cosine_with_min_lr",
        weight_decay=0.1,
        sample_limits=False,  # one long text, cut into windows: --max_train_steps bounds a quick run
    )
    data, model = add_text_args(
        parser,
        block_size=None,
        block_size_help="Tokens per training window (default: the context length).",
        example="n_layer=4,n_head=4,n_embd=128,n_positions=64,dropout=0.0",
    )
    data.add_argument(
        "--sampling",
        choices=("random", "packed"),
        default="random",
        help="random: windows at random offsets, --max_train_steps of them (nanoGPT; default 2000 steps); "
        "packed: consecutive windows, shuffled each epoch, for --num_train_epochs.",
    )
    model.add_argument("--gradient_checkpointing", action="store_true", help="Recompute activations to save memory.")
    optim = parser.add_argument_group("optimization")
    optim.add_argument("--min_learning_rate", type=float, default=1e-4, help="Floor of the cosine schedule.")
    optim.add_argument("--adam_beta1", type=float, default=0.9, help="AdamW beta1.")
    optim.add_argument("--adam_beta2", type=float, default=0.99, help="AdamW beta2 (0.99 suits small batches).")
    optim.add_argument("--max_grad_norm", type=float, default=1.0, help="Gradient clipping norm (0: off).")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--eval_steps", type=int, default=500, help="Evaluate (and sample) every N steps.")
    evaluation.add_argument("--sample_prompt", type=str, default="\n", help="Prompt of the text samples.")
    evaluation.add_argument("--sample_length", type=int, default=200, help="Tokens per text sample.")
    evaluation.add_argument(
        "--max_eval_windows",
        type=int,
        default=2000,
        help="Evaluate on at most this many windows, spread evenly over the validation text (0: every window).",
    )
    parser.set_defaults(num_warmup_steps=100, per_device_eval_batch_size=64)
    args = parser.parse_args(argv)
    validate_training_args(parser, args)
    if args.train_file is None and args.validation_file is not None:
        parser.error("--validation_file needs --train_file.")
    if args.block_size is not None and args.block_size < 2:
        parser.error(f"--block_size must be >= 2, got {args.block_size}.")
    if args.eval_steps < 1 or args.sample_length < 0 or args.max_eval_windows < 0:
        parser.error("--eval_steps must be >= 1, and --sample_length and --max_eval_windows >= 0.")
    if args.streaming and (args.train_file is not None or args.sampling == "packed" or args.max_eval_windows == 0):
        parser.error(
            "--streaming streams a dataset (--dataset_name; a --train_file is read piece by piece already) in "
            "consecutive windows (no --sampling packed), and evaluates on its first --max_eval_windows windows (> 0)."
        )
    if args.sampling == "random" and args.max_train_steps is None:
        args.max_train_steps = DEFAULT_RANDOM_STEPS
    return args


def build_model_config(args, vocab_size: int) -> CharGptConfig:
    """A new model's config: defaults, the context from --block_size, then --config_overrides; validated."""
    config = CharGptConfig(vocab_size=vocab_size, n_positions=args.block_size or CharGptConfig().n_positions)
    return new_config_from_overrides(config, args.config_overrides)


@torch.no_grad()
def evaluate(model, dataloader, accelerator) -> dict[str, float]:
    """Mean next-token loss over every window of the evaluation text, each window counted once across processes
    (`gather_for_metrics` drops the copies that pad the last batch); `eval_tokens` says how many were scored."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    count = 0
    for batch in dataloader:
        input_ids = batch["input_ids"]
        logits = model(input_ids=input_ids, use_cache=False).logits.float()
        # (batch, vocab, seq - 1) against (batch, seq - 1): a summed loss per window
        losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none").sum(dim=1)
        losses = accelerator.gather_for_metrics(losses)
        loss_sum += losses.double().sum()
        count += losses.numel() * (input_ids.shape[1] - 1)
    model.train()
    return language_model_metrics(loss_sum, count)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # 0. The Accelerator: the device and processes, mixed precision and the tracker; then logging and seeds.
    # Copied from scripts.train_mlp.main step 0 with train_mlp->train_gpt, sharded_weights=False->sharded_weights=True
    hub.check_hub_access(args.push_to_hub, args.hub_token)  # no usable token: fail now, not after training
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
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
    check_distributed(accelerator, "scripts/train_gpt.py", sharded_weights=True)

    # 1. Text: the tokenizer (built or loaded), and the text tokenized once into the token store (reused by later
    # runs on the same text and tokenizer; memory does not grow with the corpus), or streamed as training reads it.
    if args.streaming:
        train_stream, eval_tokens, tokenizer, config = load_streamed_text(
            **data_flags(args, STREAMED_TEXT_FLAGS),
            config_class=CharGptConfig,
            new_config=lambda vocab_size: build_model_config(args, vocab_size),
            block_size=args.block_size,
            eval_windows=args.max_eval_windows,
        )
        train_tokens = None  # read as training goes
    else:
        train_tokens, eval_tokens, tokenizer, config = load_text_and_tokenizer(
            accelerator,
            config_class=CharGptConfig,
            new_config=lambda vocab_size: build_model_config(args, vocab_size),
            **data_flags(args, TEXT_DATA_FLAGS),
        )
    config.check_tokenizer(tokenizer)  # a --tokenizer_name of another vocabulary than the model's is refused
    config.vocab_fingerprint = CharGptConfig.fingerprint(tokenizer.get_vocab())
    block_size = args.block_size or config.n_positions
    if block_size > config.n_positions:
        raise ValueError(f"--block_size {block_size} exceeds the model's context n_positions={config.n_positions}.")
    tokenizer.model_max_length = config.n_positions
    resuming = args.resume_from_checkpoint is not None
    prepare_output_dir(
        accelerator, args.output_dir, config.model_type, overwrite=args.overwrite_output_dir, resuming=resuming
    )
    start_tracking(accelerator, args.report_to, PROJECT_NAME, vars(args))

    # 2. Windows of the token ids, cut from the store batch by batch (or read from the stream in order).
    for name, tokens in (("training", train_tokens), ("validation", eval_tokens)):
        if tokens is not None and len(tokens) < block_size:
            raise ValueError(
                f"The {name} text has {len(tokens)} tokens (characters), fewer than one window of --block_size "
                f"{block_size}: use more text, or a smaller --block_size."
            )
    windows_per_step = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    if args.streaming:
        batches = args.max_train_steps * args.gradient_accumulation_steps
        train_dataloader = StreamedBatches(train_stream, args.per_device_train_batch_size, accelerator, batches)
        accelerator.register_for_checkpointing(train_stream)  # the position in the stream is part of a checkpoint
    else:
        if args.sampling == "random":
            starts = random_windows(len(train_tokens), block_size, args.max_train_steps * windows_per_step, args.seed)
        else:
            starts = packed_windows(len(train_tokens), block_size)
        train_dataset = TokenWindowDataset(train_tokens, block_size, starts)
        shuffle = args.sampling == "packed"  # random windows are random already
        train_dataloader = batch_dataloader(
            keep_on_device(train_dataset, accelerator.device), args.per_device_train_batch_size, shuffle, args.seed
        )
    eval_starts = packed_windows(len(eval_tokens), block_size)
    if 0 < args.max_eval_windows < len(eval_starts):  # a large corpus: an even sample of its validation windows
        eval_starts = eval_starts[torch.linspace(0, len(eval_starts) - 1, args.max_eval_windows).long()]
    eval_dataset = TokenWindowDataset(eval_tokens, block_size, eval_starts)
    eval_dataloader = batch_dataloader(
        keep_on_device(eval_dataset, accelerator.device), args.per_device_eval_batch_size, False, args.seed
    )

    # 3. Model and optimizer: weight decay on matrices only, not on LayerNorm gains and biases (nanoGPT).
    if args.model_name_or_path is not None:
        model = CharGptForCausalLM.from_pretrained(args.model_name_or_path)
    else:
        model = CharGptForCausalLM(config)
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = build_optimizer(
        accelerator,
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
    )
    model, optimizer, eval_dataloader = accelerator.prepare(model, optimizer, eval_dataloader)
    if not args.streaming:  # a stream is read by every process, each keeping its rows (StreamedBatches)
        train_dataloader = accelerator.prepare(train_dataloader)

    # 4. Schedule: warm-up then cosine to --min_learning_rate, sized after `prepare` (the dataloader is sharded).
    schedule_kwargs = {"min_lr": args.min_learning_rate} if args.lr_scheduler_type == "cosine_with_min_lr" else {}
    num_update_steps_per_epoch, max_train_steps, num_train_epochs = training_length(
        len(train_dataloader), args.gradient_accumulation_steps, args.max_train_steps, args.num_train_epochs
    )
    lr_scheduler = build_lr_scheduler(
        accelerator, optimizer, args.lr_scheduler_type, args.num_warmup_steps, max_train_steps, **schedule_kwargs
    )
    checkpointing_steps = args.checkpointing_steps  # an int, 'epoch' or None

    # 5. Resume: restore model, optimizer, schedule and RNG states, then skip the batches already seen this epoch.
    # What a checkpoint must match to be resumed: the model's configuration and how the data is batched (with the
    # processes and the gradient accumulation steps, which resume_run adds).
    batching = {
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "train_tokens": "streamed" if args.streaming else len(train_tokens),
        "windows": len(train_dataloader) if args.streaming else len(train_dataset),
    }
    resumed, checkpoint = resume_run(  # checkpoint(step, train_runtime=seconds): the weights are checked first
        accelerator,
        args.resume_from_checkpoint,
        [model],
        batching,
        None if args.streaming else num_update_steps_per_epoch,  # a stream resumes from its saved position
    )
    completed_steps, starting_epoch = resumed.completed_steps, resumed.starting_epoch

    logger.info("***** Running training *****")
    training_tokens = "streamed" if args.streaming else f"{len(train_tokens):,}"
    logger.info(f"  Training tokens = {training_tokens}, evaluation tokens = {len(eval_tokens):,}")
    logger.info(f"  Parameters = {unwrap(accelerator, model).num_parameters():,}")
    logger.info(f"  Windows of {block_size} tokens, {windows_per_step} per optimizer step, {max_train_steps} steps")
    progress_bar = training_progress_bar(accelerator, max_train_steps, completed_steps)

    # 6. The training loop: evaluate and sample every --eval_steps and at the end.
    train_time = resumed.train_runtime  # seconds trained before a resume count too
    tokens_seen = 0
    metrics: dict[str, float] = {}
    samples: list[str] = []
    loss_sum = torch.zeros((), device=accelerator.device)
    num_batches = 0
    for epoch in range(starting_epoch, num_train_epochs):
        model.train()
        train_dataloader.set_epoch(epoch)
        if epoch == starting_epoch and resumed.batches_to_skip:
            active_dataloader = accelerator.skip_first_batches(train_dataloader, resumed.batches_to_skip)
        else:
            active_dataloader = train_dataloader
        start = time.perf_counter()
        for batch in active_dataloader:
            with accelerator.accumulate(model):
                outputs = model(**batch, use_cache=False)
                accelerator.backward(outputs.loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            loss_sum += outputs.loss.detach()  # summed on the device: no host sync per step
            num_batches += 1
            tokens_seen += batch["input_ids"].numel()
            if not accelerator.sync_gradients:
                continue
            progress_bar.update(1)
            completed_steps += 1
            if completed_steps % args.eval_steps == 0 or completed_steps == max_train_steps:
                device_synchronize(accelerator)
                train_time += time.perf_counter() - start
                metrics = evaluate(model, eval_dataloader, accelerator)
                metrics["train_loss"] = accelerator.reduce(loss_sum / max(num_batches, 1), "mean").item()
                loss_sum.zero_()
                num_batches = 0
                sample = sample_text(
                    unwrap(accelerator, model),
                    tokenizer,
                    args.sample_prompt,
                    args.sample_length,
                    args.seed,
                    context_length=config.n_positions,
                )
                samples.append(f"step {completed_steps}:\n{sample}")
                logger.info(
                    f"step {completed_steps}: train_loss {metrics['train_loss']:.4f}, eval_loss "
                    f"{metrics['eval_loss']:.4f}, perplexity {metrics['perplexity']:.2f}\n{sample}"
                )
                accelerator.log({**metrics, "learning_rate": lr_scheduler.get_last_lr()[0]}, step=completed_steps)
                start = time.perf_counter()
            if isinstance(checkpointing_steps, int) and completed_steps % checkpointing_steps == 0:
                checkpoint(completed_steps, train_runtime=train_time + time.perf_counter() - start)
            if completed_steps >= max_train_steps:
                break
        device_synchronize(accelerator)
        train_time += time.perf_counter() - start
        if checkpointing_steps == "epoch":
            checkpoint(completed_steps, train_runtime=train_time)
        if completed_steps >= max_train_steps:
            break
    progress_bar.close()
    if "eval_loss" not in metrics:  # resumed from a checkpoint taken at the very end: just evaluate
        metrics = evaluate(model, eval_dataloader, accelerator)

    # 7. Results, saved model and tokenizer, card and upload.
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
    tags = ["hfnets", "gpt", "character-level", "text-generation"]
    card_data, values = language_model_card_parts(args, results, accelerator, samples, tags)
    return hub.render_model_card(
        "gpt",
        card_data,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_embd=config.n_embd,
        n_positions=config.n_positions,
        vocab_size=config.vocab_size,
        position_embedding_type=config.position_embedding_type,
        dropout=config.dropout,
        num_parameters=f"{model.num_parameters():,}",
        batch_size=args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps,
        block_size=args.block_size or config.n_positions,
        command=hub.training_command("scripts/train_gpt.py", command),
        **values,
    )


if __name__ == "__main__":
    run_main(main)
