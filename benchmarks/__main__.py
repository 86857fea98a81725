"""Run every hfnets benchmark and print one table: each figure with its ratio against a peer measured in the same
run, the bar its issue set, whether it holds, and the peak memory.

    python -m benchmarks --quick                           # a rough pass: under 10 minutes on 2 CPU cores
    python -m benchmarks --json results.json               # the full figures, also written as JSON rows
    python -m benchmarks --only gpt,ddpm --device cuda

Each benchmark runs in a fresh process (so one's memory peak or thread settings cannot colour the next) and is
also a script of its own: `python benchmarks/bench_gpt.py --help`.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "mlp": "bench_mlp.py",  # scripts/train_mlp.py against a plain PyTorch loop
    "gpt": "bench_gpt.py",  # CharGpt against transformers' GPT2LMHeadModel
    "rnn": "bench_rnn.py",  # scripts/train_rnn.py against a plain nn.LSTM loop; cached generation against uncached
    "gan": "bench_gan.py",  # GanPipeline against its bare generator
    "ddpm": "bench_ddpm.py",  # DdpmPipeline against diffusers' DDPMPipeline
    "ddpm_training": "bench_ddpm_training.py",  # UNet training-step variants against the fp32 step
    "canvas": "bench_canvas.py",  # canvas-style drawings through the stock pipeline against original digits
    "demo_load": "bench_demo_load.py",  # the classifier, GAN, DDPM and GPT demos: good visitors with hostile ones
    "playground": "bench_playground.py",  # the Playground's live epoch against a plain loop; activations compared
    "data_memory": "bench_data_memory.py",  # train_cnn / train_gpt on data far larger than a container's memory limit
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer repeats and steps (under 10 min on 2 CPU cores).")
    parser.add_argument("--json", default=None, help="Write every row to this JSON file.")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda when available).")
    parser.add_argument(
        "--only", default=None, help=f"Comma-separated benchmarks to run (default: all of {', '.join(BENCHMARKS)})."
    )
    parser.add_argument(
        "--dataset_name", default="ylecun/mnist", help="MNIST for the MLP benchmark: Hub id or local folder."
    )
    parser.add_argument("--ddpm_model", default=None, help="A trained DDPM pipeline folder (default: a new UNet).")
    parser.add_argument("--strict", action="store_true", help="Exit with status 2 when a bar is missed.")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.only is None else [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or not names:
        parser.error(f"--only: unknown benchmark(s) {unknown or args.only!r}; choose from {', '.join(BENCHMARKS)}.")
    args.names = names
    return args


MNIST_BENCHMARKS = ("mlp", "canvas", "playground")


def dataset_problem(dataset_name: str) -> str | None:
    """Why MNIST cannot be loaded from `dataset_name` (offline and not in the cache, no such folder), or None."""
    from datasets import load_dataset_builder

    try:
        load_dataset_builder(dataset_name)
    except Exception as error:  # whatever datasets raises, said in one line
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"cannot load MNIST from {dataset_name!r} ({first[:160]})"
    return None


def run_one(name: str, args: argparse.Namespace, output: Path) -> tuple[list[dict], float, str | None]:
    """Run one benchmark in its own process; returns its rows, its wall time and an error, if any."""
    command = [sys.executable, str(HERE / BENCHMARKS[name]), "--device", args.device, "--json", str(output)]
    if args.quick:
        command.append("--quick")
    if name in ("mlp", "canvas", "playground"):
        command += ["--dataset_name", args.dataset_name]
    if name == "ddpm" and args.ddpm_model:
        command += ["--model", args.ddpm_model]
    print(f"\n== {name}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=HERE.parent)
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not output.is_file():
        return [], seconds, f"{BENCHMARKS[name]} exited with status {result.returncode}"
    return json.loads(output.read_text()), seconds, None


def format_table(rows: list[dict]) -> str:
    header = f"{'benchmark':60} {'value':>12} {'unit':14} {'ratio':>7} {'bar':>9} {'holds':>6} {'peak MB':>9}  peer"
    lines = [header, "-" * len(header)]
    for row in rows:
        bar = "" if row.get("bar") is None else f"{'>=' if row['bar_kind'] == 'min' else '<='}{row['bar']}"
        ratio = "" if row.get("ratio") is None else f"{row['ratio']:.3f}"
        holds = {True: "yes", False: "NO", None: ""}[row.get("holds")]
        kind = f" ({row['ratio_of']})" if row.get("ratio_of") == "time" else ""
        lines.append(
            f"{row['name']:60} {row['value']:>12,} {row['unit']:14} {ratio:>7} {bar:>9} {holds:>6} "
            f"{row.get('peak_memory_mb', 0):>9,.0f}  {(row.get('peer') or '') + kind}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows, failures, skipped, timings = [], [], [], {}
    problem = dataset_problem(args.dataset_name) if set(args.names) & set(MNIST_BENCHMARKS) else None
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.names:
            if problem and name in MNIST_BENCHMARKS:
                skipped.append(name)  # no data to measure with: said below, as the tests skip without their data
                continue
            found, seconds, error = run_one(name, args, Path(scratch, f"{name}.json"))
            timings[name] = seconds
            rows += [{"benchmark": name, **row} for row in found]
            if error:
                failures.append(f"{name}: {error}")
    print()
    print(format_table(rows))
    device = rows[0]["device"] if rows else args.device
    total = sum(timings.values())
    print(
        f"\n{len(rows)} figures on {device} in {total / 60:.1f} min ("
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + ")"
        + (" with --quick" if args.quick else "")
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        print(f"rows written to {args.json}")
    missed = [row["name"] for row in rows if row.get("holds") is False]
    if missed:
        print("bars missed: " + ", ".join(missed))
    if skipped:
        print(
            f"not run: {', '.join(skipped)}: {problem}. Pass --dataset_name with a local copy of MNIST in the Hub "
            "layout (a folder datasets.load_dataset reads).",
            file=sys.stderr,
        )
    if failures:
        print("failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
