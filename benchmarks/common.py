"""What every benchmark shares: the device, fair timing, peak memory and the rows of the results table.

A row is `{"name", "value", "unit", "peer", "ratio", "bar", "holds"}` plus `peak_memory_mb`, `device`, `threads`
and the library versions. `ratio` compares against `peer`, measured in the same run; `holds` says whether the ratio
meets `bar`, the bar its issue set. Ratios are of throughputs (ours / peer, `bar_kind` "min": ratio >= bar) or,
where the issue set a time bar, of times (ours / peer, `bar_kind` "max": ratio <= bar); `ratio_of` says which. A
row with no peer is a plain figure: `peer`, `ratio`, `bar` and `holds` are None.
"""

import argparse
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda when available).")
    parser.add_argument("--quick", action="store_true", help="Fewer repeats and steps: a rough figure in less time.")
    parser.add_argument("--json", default=None, help="Write the result rows to this JSON file.")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: no CUDA device is available here (torch {torch.__version__}).")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer measures the work and not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory: on CUDA, what tensors held since the last reset; on CPU, the process's peak resident size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(call: Callable[[], object], device: torch.device) -> float:
    """Seconds one call takes, its device work included."""
    synchronize(device)
    start = time.perf_counter()
    call()
    synchronize(device)
    return time.perf_counter() - start


def interleaved_medians(first, second, calls: int, device: torch.device | None = None) -> tuple[float, float]:
    """Median time of each of two functions, called alternately so that both see the same machine state.

    Single calls of a few milliseconds vary by half their length on a busy CPU; medians of interleaved calls
    compare the two fairly where a best-of-N would compare two lucky outliers.
    """
    device = device or torch.device("cpu")
    first(), second()  # warm-up
    times = ([], [])
    for _ in range(calls):
        for function, bucket in ((first, times[0]), (second, times[1])):
            bucket.append(timed(function, device))
    return statistics.median(times[0]), statistics.median(times[1])


def versions() -> dict[str, str]:
    import accelerate
    import diffusers
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "diffusers": diffusers.__version__,
        "accelerate": accelerate.__version__,
        "python": platform.python_version(),
    }


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"


def row(
    name: str,
    value: float,
    unit: str,
    device: torch.device,
    peer: str | None = None,
    ratio: float | None = None,
    bar: float | None = None,
    bar_kind: str = "min",
    bar_on: str = "ratio",
    **extra,
) -> dict:
    """One result row; `holds` is computed from `bar` and `bar_kind` on the `ratio`, or on the `value` itself where
    the bar is an absolute one (`bar_on="value"`, e.g. an accuracy)."""
    holds = None
    measured = value if bar_on == "value" else ratio
    if measured is not None and bar is not None:
        holds = bool(measured >= bar) if bar_kind == "min" else bool(measured <= bar)
    ratio_of = None if ratio is None else ("time" if bar_kind == "max" else "throughput")
    return {
        "name": name,
        "value": round(value, 3 if abs(value) < 10 else 1),
        "unit": unit,
        "peer": peer,
        "ratio": None if ratio is None else round(ratio, 3),
        "bar": bar,
        "bar_kind": bar_kind if bar is not None else None,
        "bar_on": bar_on if bar is not None else None,
        "ratio_of": ratio_of,
        "holds": holds,
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "device": describe(device),
        "threads": torch.get_num_threads(),
        **extra,
        "versions": versions(),
    }


def write_rows(path: str | None, rows: list[dict]) -> None:
    if path:
        Path(path).write_text(json.dumps(rows, indent=2) + "\n")
