"""Training and generation speed of the hfnets GPT against transformers' GPT2LMHeadModel of the same size.

Both models have nanoGPT's CPU shape (4 layers, 4 heads, 128 dimensions, context 64, vocabulary 67), use SDPA
attention and train in the same loop (AdamW, batches of 12 random windows of 64 tokens, forward with labels,
backward, clipping, step) on the same token stream; generation is greedy with the KV cache, 63 new tokens after a
one-token prompt, through `generate`. Runs alternate and the best of `--repeats` counts.

    python benchmarks/bench_gpt.py --json bench_gpt.json
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

from hfnets import CharGptConfig, CharGptForCausalLM

# The bars: at least as fast as GPT2LMHeadModel, for training and for cached generation.
BAR = 1.0
SHAPE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 64}
VOCAB = 67


def build_models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    ours = CharGptForCausalLM(CharGptConfig(vocab_size=VOCAB, **SHAPE))
    learned = CharGptForCausalLM(CharGptConfig(vocab_size=VOCAB, position_embedding_type="learned", **SHAPE))
    gpt2 = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=VOCAB,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            attn_implementation="sdpa",
            **SHAPE,
        )
    )
    return {"hfnets CharGpt (rotary)": ours, "hfnets CharGpt (learned positions)": learned, "GPT2LMHeadModel": gpt2}


def train_tokens_per_second(model, tokens: torch.Tensor, steps: int, batch: int = 12, block: int = 64) -> float:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    generator = torch.Generator().manual_seed(0)
    offsets = torch.arange(block)

    def step() -> None:
        starts = torch.randint(0, len(tokens) - block, (batch,), generator=generator)
        windows = tokens[starts[:, None] + offsets]
        loss = model(input_ids=windows, labels=windows, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(10):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch * block / (time.perf_counter() - start)


@torch.no_grad()
def generate_tokens_per_second(model, runs: int, new_tokens: int = 63, use_cache: bool = True) -> float:
    model.eval()
    prompt = torch.tensor([[1]])
    kwargs = {
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False,
        "use_cache": use_cache,
        "pad_token_id": 0,
    }
    model.generate(prompt, **kwargs)  # warm-up
    start = time.perf_counter()
    for _ in range(runs):
        model.generate(prompt, **kwargs)
    return runs * new_tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="Training steps per measured run.")
    parser.add_argument("--generations", type=int, default=20, help="Generate calls per measured run.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each; the best counts.")
    parser.add_argument("--json", type=str, default=None, help="Write the results to this JSON file.")
    args = parser.parse_args()

    tokens = torch.randint(2, VOCAB, (200_000,), generator=torch.Generator().manual_seed(0))
    models = build_models()
    train = {name: 0.0 for name in models}
    generate = {name: 0.0 for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            train[name] = max(train[name], train_tokens_per_second(model, tokens, args.steps))
            generate[name] = max(generate[name], generate_tokens_per_second(model, args.generations))

    peer = "GPT2LMHeadModel"
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
    rows = []
    print(f"{'':38}{'train tokens/s':>16}{'ratio':>8}{'generate tokens/s':>20}{'ratio':>8}")
    for name in models:
        train_ratio, generate_ratio = train[name] / train[peer], generate[name] / generate[peer]
        print(f"{name:38}{train[name]:16,.0f}{train_ratio:8.2f}{generate[name]:20,.0f}{generate_ratio:8.2f}")
        if name == peer:
            continue
        measured = (("train", train[name], train_ratio), ("generate", generate[name], generate_ratio))
        for metric, value, ratio in measured:
            rows.append(
                {
                    "name": f"gpt_{metric}_throughput ({name})",
                    "value": round(value, 1),
                    "unit": "tokens/s",
                    "peer": peer,
                    "ratio": round(ratio, 3),
                    "bar": BAR,
                    "holds": ratio >= BAR,
                    "threads": torch.get_num_threads(),
                    "versions": versions,
                }
            )
    ours = models["hfnets CharGpt (rotary)"]
    uncached = max(generate_tokens_per_second(ours, args.generations, use_cache=False) for _ in range(args.repeats))
    speedup = generate["hfnets CharGpt (rotary)"] / uncached
    print(
        f"hfnets CharGpt (rotary) without the KV cache: {uncached:,.0f} tokens/s (the cache is {speedup:.2f}x faster)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
