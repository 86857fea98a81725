"""Training and generation speed of the hfnets GPT against transformers' GPT2LMHeadModel of the same size.

Both models have nanoGPT's shape (`--shape cpu`: 4 layers, 4 heads, 128 dimensions, context 64, batch 12; `--shape
gpu`: 6 layers, 6 heads, 384 dimensions, context 256, batch 64; the default follows the device), use SDPA attention
and train in the same loop (AdamW, batches of random windows, forward with labels, backward, clipping, step; bf16
autocast on CUDA) on the same token stream; generation is greedy with the KV cache, 63 new tokens after a one-token
prompt, through `generate`. Runs alternate and the best of `--repeats` counts. Model FLOPs utilization (MFU) is
given where the device's peak is known (nanoGPT's estimate: 6N + 12 L H Q T FLOPs per token).

    python benchmarks/bench_gpt.py --json bench_gpt.json
"""

import argparse
import contextlib
import time

import torch
from common import add_common_args, pick_device, reset_peak_memory, row, synchronize, write_rows
from transformers import GPT2Config, GPT2LMHeadModel

from hfnets import CharGptConfig, CharGptForCausalLM

# The bars: at least as fast as GPT2LMHeadModel, for training and for cached generation.
BAR = 1.0
SHAPES = {
    "cpu": ({"n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 64}, 12),
    "gpu": ({"n_layer": 6, "n_head": 6, "n_embd": 384, "n_positions": 256}, 64),
}
VOCAB = 67
# Dense bf16 peak FLOP/s by device name (datasheets); MFU is left out for others.
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10G": 125e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)


def flops_per_token(model, shape: dict) -> float:
    """Training FLOPs per token (forward and backward): 6 per parameter plus the attention scores."""
    layers, heads, width, context = shape["n_layer"], shape["n_head"], shape["n_embd"], shape["n_positions"]
    return 6 * model.num_parameters() + 12 * layers * heads * (width // heads) * context


def build_models(shape: dict, device: torch.device) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    ours = CharGptForCausalLM(CharGptConfig(vocab_size=VOCAB, **shape))
    learned = CharGptForCausalLM(CharGptConfig(vocab_size=VOCAB, position_embedding_type="learned", **shape))
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
            **shape,
        )
    )
    models = {"hfnets CharGpt (rotary)": ours, "hfnets CharGpt (learned positions)": learned, "GPT2LMHeadModel": gpt2}
    return {name: model.to(device) for name, model in models.items()}


def train_tokens_per_second(model, tokens: torch.Tensor, steps: int, batch: int, block: int) -> float:
    model.train()
    device = tokens.device
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, **fused)
    generator = torch.Generator(device).manual_seed(0)
    offsets = torch.arange(block, device=device)
    autocast = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def step() -> None:
        starts = torch.randint(0, len(tokens) - block, (batch,), generator=generator, device=device)
        windows = tokens[starts[:, None] + offsets]
        with autocast:
            loss = model(input_ids=windows, labels=windows, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(10):  # warm-up
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch * block / (time.perf_counter() - start)


@torch.no_grad()
def generate_tokens_per_second(model, runs: int, new_tokens: int = 63, use_cache: bool = True) -> float:
    model.eval()
    device = next(model.parameters()).device
    prompt = torch.tensor([[1]], device=device)
    kwargs = {
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False,
        "use_cache": use_cache,
        "pad_token_id": 0,
    }
    model.generate(prompt, **kwargs)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(runs):
        model.generate(prompt, **kwargs)
    synchronize(device)
    return runs * new_tokens / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="Training steps per measured run.")
    parser.add_argument("--generations", type=int, default=20, help="Generate calls per measured run.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each; the best counts.")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None, help="Model shape (default: the device's).")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.generations, args.repeats = 30, 5, 1
    device = pick_device(args.device)
    shape, batch = SHAPES[args.shape or ("gpu" if device.type == "cuda" else "cpu")]
    block = shape["n_positions"]

    tokens = torch.randint(2, VOCAB, (200_000,), generator=torch.Generator().manual_seed(0)).to(device)
    models = build_models(shape, device)
    reset_peak_memory(device)
    train = {name: 0.0 for name in models}
    generate = {name: 0.0 for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            train[name] = max(train[name], train_tokens_per_second(model, tokens, args.steps, batch, block))
            generate[name] = max(generate[name], generate_tokens_per_second(model, args.generations))

    peer = "GPT2LMHeadModel"
    details = {"shape": shape, "batch_size": batch}
    rows = []
    print(f"{'':38}{'train tokens/s':>16}{'ratio':>8}{'generate tokens/s':>20}{'ratio':>8}")
    for name in models:
        train_ratio, generate_ratio = train[name] / train[peer], generate[name] / generate[peer]
        print(f"{name:38}{train[name]:16,.0f}{train_ratio:8.2f}{generate[name]:20,.0f}{generate_ratio:8.2f}")
        if name == peer:
            continue
        for metric, value, ratio in (
            ("train", train[name], train_ratio),
            ("generate", generate[name], generate_ratio),
        ):
            rows.append(
                row(f"gpt_{metric}_throughput ({name})", value, "tokens/s", device, peer, ratio, BAR, **details)
            )
    ours = models["hfnets CharGpt (rotary)"]
    achieved = train["hfnets CharGpt (rotary)"] * flops_per_token(ours, shape)
    peak = peak_flops(device)
    rows.append(row("gpt_train_model_flops (hfnets CharGpt (rotary))", achieved / 1e12, "TFLOP/s", device, **details))
    print(f"model FLOPs: {achieved / 1e12:.3f} TFLOP/s", end="")
    if peak:
        rows.append(row("gpt_train_mfu (hfnets CharGpt (rotary))", 100 * achieved / peak, "%", device, **details))
        print(f", MFU {100 * achieved / peak:.1f}% of {peak / 1e12:.0f} TFLOP/s bf16", end="")
    print()
    uncached = max(generate_tokens_per_second(ours, args.generations, use_cache=False) for _ in range(args.repeats))
    speedup = generate["hfnets CharGpt (rotary)"] / uncached
    print(
        f"hfnets CharGpt (rotary) without the KV cache: {uncached:,.0f} tokens/s (the cache is {speedup:.2f}x faster)"
    )
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
