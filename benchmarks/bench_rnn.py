"""Training throughput of scripts/train_rnn.py against a plain PyTorch `nn.LSTM` loop, and cached generation
against uncached.

Training: both train the same char-rnn (embedding, 2 x 512 LSTM with dropout 0.2, linear head; the script's default
shape) the same way: the text cut into 64 contiguous streams, windows of 64 characters, the state carried from step
to step and detached, gradient clipping at 5, AdamW, in the precision the script picks by default on this hardware
(bf16 autocast where it is native, float32 elsewhere), in this one process, alternating so that both see the same
machine state; the best of `--repeats` runs counts. The plain loop is the textbook one: `nn.LSTM(num_layers=2)`
called on the tensors directly. The script's figure is its own `train_tokens_per_second` (the training loop:
windows, forward, loss, backward, clipping, optimizer and schedule steps, progress bar), which excludes start-up and
evaluation. The text is random characters from a 65-letter alphabet: speed does not depend on what is read.

Generation: the same model, greedy, 200 new characters after a one-character prompt, through `generate` with the
recurrent state as the cache (one step per character) and without it (the whole text re-read at every step).

    python benchmarks/bench_rnn.py --json bench_rnn.json
"""

import argparse
import importlib.util
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from accelerate.state import AcceleratorState
from common import add_common_args, pick_device, reset_peak_memory, row, synchronize, write_rows
from torch import nn
from torch.nn import functional as F

from hfnets import CharRnnConfig, CharRnnForCausalLM
from hfnets.training.accelerator import resolve_mixed_precision

REPO_ROOT = Path(__file__).resolve().parents[1]
# The bar: the script keeps at least 90% of a plain nn.LSTM loop's throughput.
BAR = 0.9
HIDDEN, LAYERS, DROPOUT, STREAMS, BLOCK = 512, 2, 0.2, 64, 64
ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_text(folder: Path) -> tuple[Path, Path]:
    generator = torch.Generator().manual_seed(0)
    letters = torch.randint(0, len(ALPHABET), (600_000,), generator=generator).tolist()
    text = "".join(ALPHABET[i] for i in letters)
    train, validation = folder / "train.txt", folder / "validation.txt"
    train.write_text(text[:560_000])
    validation.write_text(text[560_000:])
    return train, validation


def plain_loop(tokens: torch.Tensor, steps: int, precision: str, seed: int) -> float:
    """char-rnn in plain PyTorch: streams, carried and detached state, clipping, AdamW. Returns tokens/s."""
    torch.manual_seed(seed)
    device = tokens.device
    vocab = int(tokens.max()) + 1
    embedding = nn.Embedding(vocab, HIDDEN)
    lstm = nn.LSTM(HIDDEN, HIDDEN, LAYERS, dropout=DROPOUT, batch_first=True)
    head = nn.Linear(HIDDEN, vocab)
    drop = nn.Dropout(DROPOUT)
    modules = nn.ModuleList([embedding, lstm, head]).to(device)
    optimizer = torch.optim.AdamW(modules.parameters(), lr=2e-3, betas=(0.9, 0.99), weight_decay=0.0)
    length = len(tokens) // STREAMS
    rows = tokens[: STREAMS * length].view(STREAMS, length)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    state = None
    synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        window = rows[:, step * BLOCK : (step + 1) * BLOCK + 1]
        with autocast:
            output, state = lstm(drop(embedding(window[:, :-1])), state)
            logits = head(drop(output))
        loss = F.cross_entropy(logits.float().flatten(0, 1), window[:, 1:].flatten())
        loss.backward()
        nn.utils.clip_grad_norm_(modules.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad()
        state = tuple(tensor.detach() for tensor in state)
    synchronize(device)
    return steps * STREAMS * BLOCK / (time.perf_counter() - start)


def load_script():
    spec = importlib.util.spec_from_file_location("train_rnn", REPO_ROOT / "scripts" / "train_rnn.py")
    train_rnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_rnn)
    return train_rnn


def script_run(train: Path, validation: Path, steps: int, precision: str, seed: int) -> float:
    with tempfile.TemporaryDirectory() as output_dir:
        results = load_script().main(
            [
                *("--train_file", str(train), "--validation_file", str(validation), "--output_dir", output_dir),
                *("--config_overrides", f"hidden_size={HIDDEN},num_layers={LAYERS},dropout={DROPOUT}"),
                *("--per_device_train_batch_size", str(STREAMS), "--block_size", str(BLOCK)),
                *("--max_train_steps", str(steps), "--num_warmup_steps", "0", "--seed", str(seed)),
                *("--sample_length", "0", "--eval_streams", "4", "--report_to", "none"),
                *("--mixed_precision", precision),
            ]
        )
    AcceleratorState._reset_state(True)
    return results["train_tokens_per_second"]


@torch.no_grad()
def generate_tokens_per_second(model, runs: int, use_cache: bool, new_tokens: int = 200) -> float:
    device = next(model.parameters()).device
    prompt = torch.tensor([[1]], device=device)
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "pad_token_id": 0}
    model.generate(prompt, use_cache=use_cache, **kwargs)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(runs):
        model.generate(prompt, use_cache=use_cache, **kwargs)
    synchronize(device)
    return runs * new_tokens / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="Training steps per measured run.")
    parser.add_argument("--generations", type=int, default=5, help="Generate calls per measured run.")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each; the best counts.")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.generations, args.repeats = 15, 2, 1
    device = pick_device(args.device)
    if device.type == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"  # the script's Accelerator stays on the CPU too
    precision = resolve_mixed_precision("auto")  # what the script does by default here; the plain loop does the same

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        train, validation = make_text(Path(folder))
        tokens = torch.tensor([ALPHABET.index(c) + 2 for c in train.read_text()], device=device)  # as the tokenizer
        plain_loop(tokens, 3, precision, 0)  # warm-up
        reset_peak_memory(device)
        plain, script = [], []
        for repeat in range(args.repeats):
            plain.append(plain_loop(tokens, args.steps, precision, repeat))
            script.append(script_run(train, validation, args.steps, precision, repeat))
    ratio = max(script) / max(plain)
    peer = "plain PyTorch nn.LSTM loop"
    details = {"hidden_size": HIDDEN, "num_layers": LAYERS, "streams": STREAMS, "block_size": BLOCK}
    rows.append(
        row(
            "rnn_train_throughput (scripts/train_rnn.py)",
            max(script),
            "tokens/s",
            device,
            peer,
            ratio,
            BAR,
            peer_value=max(plain),
            mixed_precision=precision,
            **details,
        )
    )
    print(f"{'':32}{'tokens/s':>12}   ({precision})")
    print(f"{'plain nn.LSTM loop':32}{max(plain):12,.0f}")
    print(f"{'scripts/train_rnn.py':32}{max(script):12,.0f}")
    print(f"ratio {ratio:.3f} (bar >= {BAR}): {'holds' if rows[0]['holds'] else 'MISSED'}")

    torch.manual_seed(0)
    config = CharRnnConfig(vocab_size=len(ALPHABET) + 2, hidden_size=HIDDEN, num_layers=LAYERS)
    model = CharRnnForCausalLM(config).to(device).eval()
    cached = max(generate_tokens_per_second(model, args.generations, True) for _ in range(args.repeats))
    uncached = max(generate_tokens_per_second(model, args.generations, False) for _ in range(args.repeats))
    rows.append(
        row(
            "rnn_generate_throughput (cache)",
            cached,
            "tokens/s",
            device,
            "the same model without the cache",
            cached / uncached,
            peer_value=uncached,
            new_tokens=200,
            **details,
        )
    )
    speedup = cached / uncached
    print(f"generate, 200 tokens: {cached:,.0f} tokens/s with the cache, {uncached:,.0f} without ({speedup:.1f}x)")
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
