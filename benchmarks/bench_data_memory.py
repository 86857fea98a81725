"""Peak memory against data size: the training scripts inside a container-sized memory limit, on image folders and
texts far larger than the limit allows in memory.

- images: `scripts/train_cnn.py` with its defaults, 20 steps, on a folder of `--images` JPEGs of `--side` pixels
  (coloured shapes on noise, 10 classes; 40,000 of 160 px decode to about 3 GB), inside a `--image_limit` memory
  cgroup (1.5 GB). Peer: the same run with every image decoded into memory (`--memory_budget 1000GB`), measured in
  a cgroup without a limit. The bar: the default run completes inside the limit.
- text: `scripts/train_gpt.py --train_file` on a text of `--text_mb` MB, 2 steps, inside a `--text_limit` cgroup
  (2.5 GB), twice: the first run tokenizes into the token store, the second reuses it. The bar: both complete inside
  the limit, the second in at most 90 s.

Peak memory is the cgroup's own count (`memory.max_usage_in_bytes` under cgroup v1, `memory.peak` under v2): every
process of the run (DataLoader workers too) and the page cache it fills, as a container's limit counts them. Making
a cgroup needs root and a writable cgroup file system; elsewhere the runs are unconfined and the peak is the largest
single process's resident size (said in the row).

    python benchmarks/bench_data_memory.py --json bench_data_memory.json     # 40,000 images, a 2 GB text
    python benchmarks/bench_data_memory.py --quick                           # 4,000 images, a 200 MB text
"""

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import torch
from common import add_common_args, pick_device, row, write_rows
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[1]
GB = 2**30
SHAPES = ("ellipse", "rectangle", "triangle", "cross", "ring")
COLOURS = ((220, 40, 40), (40, 160, 60))


def make_image_folder(folder: Path, count: int, side: int) -> Path:
    """`count` JPEGs of `side` pixels in 10 class subfolders (5 shapes x 2 colours), made once per folder."""
    done = folder / ".complete"
    if done.is_file() and done.read_text() == f"{count} {side}":
        return folder
    rng = random.Random(0)
    for index in range(count):
        shape, colour = SHAPES[index % 5], COLOURS[(index // 5) % 2]
        target = folder / f"{shape}-{'red' if colour[0] > 100 else 'green'}"
        target.mkdir(parents=True, exist_ok=True)
        noise = Image.effect_noise((side, side), 40).convert("RGB")
        pen = ImageDraw.Draw(noise)
        size = rng.randint(side // 3, side // 2)
        x, y = rng.randint(0, side - size), rng.randint(0, side - size)
        box = (x, y, x + size, y + size)
        if shape == "ellipse":
            pen.ellipse(box, fill=colour)
        elif shape == "rectangle":
            pen.rectangle(box, fill=colour)
        elif shape == "triangle":
            pen.polygon([(x, y + size), (x + size // 2, y), (x + size, y + size)], fill=colour)
        elif shape == "cross":
            pen.rectangle((x + size // 3, y, x + 2 * size // 3, y + size), fill=colour)
            pen.rectangle((x, y + size // 3, x + size, y + 2 * size // 3), fill=colour)
        else:
            pen.ellipse(box, outline=colour, width=max(2, size // 6))
        noise.save(target / f"{index:06d}.jpg", quality=90)
    done.write_text(f"{count} {side}")
    return folder


def make_text(path: Path, megabytes: int) -> Path:
    """A text of `megabytes` MB: Tiny Shakespeare-like lines of random words from a 65-character alphabet."""
    if path.is_file() and path.stat().st_size == megabytes * 2**20:
        return path
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9))) for _ in range(5000)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))).capitalize() + ".\n" for _ in range(20000)]
    block = "".join(lines).encode()
    with path.open("wb") as file:
        left = megabytes * 2**20
        while left > 0:
            file.write(block[:left])
            left -= len(block)
    return path


class MemoryGroup:
    """A memory cgroup (v1 or v2) with an optional limit, for one run; `None` from `make` where none can be made."""

    def __init__(self, folder: Path, version: int):
        self.folder, self.version = folder, version

    @classmethod
    def make(cls, limit: int | None) -> "MemoryGroup | None":
        name = f"hfnets-bench-{uuid.uuid4().hex[:8]}"
        for root, version in ((Path("/sys/fs/cgroup/memory"), 1), (Path("/sys/fs/cgroup"), 2)):
            if version == 2 and not (root / "cgroup.controllers").is_file():
                continue
            if version == 1 and not (root / "memory.limit_in_bytes").is_file():
                continue
            try:
                (root / name).mkdir()
            except OSError:
                continue
            group = cls(root / name, version)
            if limit is not None:
                (group.folder / ("memory.limit_in_bytes" if version == 1 else "memory.max")).write_text(str(limit))
            return group
        return None

    @property
    def peak(self) -> int:
        return int((self.folder / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")).read_text())

    @property
    def anonymous(self) -> int:
        """The processes' own memory now (no page cache): v1 `rss` + `rss_huge`, v2 `anon`."""
        stat = dict(line.split() for line in (self.folder / "memory.stat").read_text().splitlines())
        return int(stat["rss"]) + int(stat.get("rss_huge", 0)) if self.version == 1 else int(stat["anon"])

    def remove(self) -> None:
        try:
            self.folder.rmdir()
        except OSError:
            pass


def run_confined(command: list[str], limit: int | None, log: Path) -> dict:
    """Run `command` (inside a fresh memory cgroup limited to `limit` bytes, where one can be made); its exit code,
    seconds, peak memory (page cache included, as the limit counts it), peak anonymous memory (sampled every 0.2 s:
    what cannot be reclaimed) and how they were measured."""
    group = MemoryGroup.make(limit)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if group is not None:  # the shell joins the group, then becomes the command
        command = ["sh", "-c", f'echo $$ > {group.folder}/cgroup.procs && exec "$@"', "sh", *command]
    start = time.perf_counter()
    anonymous = 0
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        while process.poll() is None:
            if group is not None:
                anonymous = max(anonymous, group.anonymous)
            time.sleep(0.2)
    seconds = time.perf_counter() - start
    if group is None:
        peak = anonymous = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        how = "largest process RSS, unconfined"
    else:
        peak, how = group.peak, f"cgroup v{group.version}" + (f", limit {limit / GB:.2f} GB" if limit else "")
        group.remove()
    return {"code": process.returncode, "seconds": seconds, "peak": peak, "anonymous": anonymous, "measured": how}


def describe_run(name: str, result: dict) -> str:
    state = "completed" if result["code"] == 0 else f"exit {result['code']} (137: killed over the limit)"
    return (
        f"{name}: {state} in {result['seconds']:.1f} s, peak {result['peak'] / GB:.2f} GB with the page cache, "
        f"{result['anonymous'] / GB:.2f} GB without ({result['measured']})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--images", type=int, default=None, help="JPEGs in the folder (default 40,000; quick 4,000).")
    parser.add_argument("--side", type=int, default=160, help="Side of the JPEGs in pixels.")
    parser.add_argument("--image_limit", type=float, default=1.5, help="The image run's memory limit, in GB.")
    parser.add_argument("--text_mb", type=int, default=None, help="Size of the text (default 2048 MB; quick 200).")
    parser.add_argument("--text_limit", type=float, default=2.5, help="The text runs' memory limit, in GB.")
    parser.add_argument("--data_dir", default=None, help="Keep the made data here and reuse it (default: temporary).")
    parser.add_argument("--parts", default="images,text", help="What to measure: images, text or both (default).")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    count = args.images or (4000 if args.quick else 40000)
    text_mb = args.text_mb or (200 if args.quick else 2048)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(args.data_dir or scratch)
        data.mkdir(parents=True, exist_ok=True)
        logs = data / "logs"  # kept with the data
        logs.mkdir(exist_ok=True)

        if "images" in args.parts:
            rows += measure_images(args, count, data, logs, Path(scratch), device)
        if "text" in args.parts:
            rows += measure_text(args, text_mb, data, logs, Path(scratch), device)
    for result in rows:
        print(result)
    write_rows(args.json, rows)


def measure_images(args, count: int, data: Path, logs: Path, scratch: Path, device) -> list[dict]:
    rows = []
    start = time.perf_counter()
    folder = make_image_folder(data / f"shapes-{count}-{args.side}", count, args.side)
    print(f"{count} JPEGs of {args.side} px ready in {time.perf_counter() - start:.0f} s", flush=True)
    cnn = [sys.executable, "scripts/train_cnn.py", "--train_dir", str(folder), "--max_train_steps", "20"]
    cnn += ["--report_to", "none", "--overwrite_output_dir"]
    decoded = count * 3 * args.side**2 / GB
    limit = int(args.image_limit * GB)
    streamed = run_confined([*cnn, "--output_dir", f"{scratch}/cnn"], limit, logs / "cnn.log")
    print(describe_run("train_cnn (defaults)", streamed), flush=True)
    in_memory = run_confined(
        [*cnn, "--output_dir", f"{scratch}/cnn-in-memory", "--memory_budget", "1000GB"], None, logs / "mem.log"
    )
    print(describe_run("train_cnn (all in memory)", in_memory), flush=True)
    for result, log in ((streamed, "cnn.log"), (in_memory, "mem.log")):
        if result["code"] not in (0, 137, -9):
            print((logs / log).read_text()[-3000:], file=sys.stderr)
    rows.append(
        row(
            f"cnn_{count}_jpegs_{args.side}px_peak_memory",
            streamed["peak"] / GB,
            "GB",
            device,
            peer="every image decoded into memory (--memory_budget 1000GB), no limit",
            ratio=streamed["peak"] / max(in_memory["peak"], 1),
            bar=args.image_limit,
            bar_kind="max",
            bar_on="value",
            completed=streamed["code"] == 0,
            decoded_at_full_size_gb=round(decoded, 2),
            seconds=round(streamed["seconds"], 1),
            peer_seconds=round(in_memory["seconds"], 1),
            peer_peak_gb=round(in_memory["peak"] / GB, 2),
            anonymous_peak_gb=round(streamed["anonymous"] / GB, 2),
            peer_anonymous_peak_gb=round(in_memory["anonymous"] / GB, 2),
            measured=streamed["measured"],
        )
    )
    rows[-1]["ratio_of"] = "peak memory"
    if streamed["code"] != 0:
        rows[-1]["holds"] = False

    return rows


def measure_text(args, text_mb: int, data: Path, logs: Path, scratch: Path, device) -> list[dict]:
    rows = []
    text = make_text(data / f"text-{text_mb}mb.txt", text_mb)
    gpt = [sys.executable, "scripts/train_gpt.py", "--train_file", str(text), "--max_train_steps", "2"]
    gpt += ["--eval_steps", "2", "--sample_length", "0", "--report_to", "none", "--overwrite_output_dir"]
    home = Path(scratch) / "hf_home"  # a store of its own: the first run tokenizes, the second reuses
    os.environ["HF_HOME"] = str(home)
    limit = int(args.text_limit * GB)
    runs = {}
    for attempt in ("first", "second"):
        runs[attempt] = run_confined([*gpt, "--output_dir", f"{scratch}/gpt"], limit, logs / f"gpt-{attempt}.log")
        print(describe_run(f"train_gpt ({attempt} run)", runs[attempt]), flush=True)
    for attempt, result in runs.items():
        rows.append(
            row(
                f"gpt_{text_mb}mb_text_{attempt}_run_seconds",
                result["seconds"],
                "s",
                device,
                bar=90 if attempt == "second" else None,
                bar_kind="max",
                bar_on="value",
                completed=result["code"] == 0,
                peak_gb=round(result["peak"] / GB, 2),
                anonymous_peak_gb=round(result["anonymous"] / GB, 2),
                measured=result["measured"],
            )
        )
        if result["code"] != 0:
            rows[-1]["holds"] = False
    os.environ.pop("HF_HOME")

    # Tokenization alone: the store written in one process, then in --preprocessing_num_workers' default.
    from hfnets import CharGptTokenizer
    from hfnets.training.token_store import characters, default_workers, file_source, token_store

    source = file_source(text)
    os.environ["HF_HOME"] = str(home)  # the first runs' character set
    tokenizer = CharGptTokenizer.from_text(characters(source))
    speeds = {}
    for workers in (1, default_workers(source, None)):
        os.environ["HF_HOME"] = str(Path(scratch) / f"store-{workers}")
        start = time.perf_counter()
        token_store(source, tokenizer, show_progress=False, num_workers=workers)
        speeds[workers] = source.size / 2**20 / (time.perf_counter() - start)
        print(f"tokenizing {text_mb} MB in {workers} process(es): {speeds[workers]:.1f} MB/s", flush=True)
        shutil.rmtree(os.environ.pop("HF_HOME"))
    many = max(speeds)
    rows.append(
        row(
            f"tokenize_{text_mb}mb_{many}_workers",
            speeds[many],
            "MB/s",
            device,
            peer="one process",
            ratio=speeds[many] / speeds[1],
        )
    )
    return rows


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
