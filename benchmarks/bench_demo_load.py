"""The demos under load: 20 good visitors while 20 others send garbage and the most expensive requests the demo
allows, against the same 20 good visitors alone, measured in the same run, for the classifier, the GAN, the
diffusion model and the GPT's writer.

Each app runs as a user runs it (`python -m spaces.<demo>.app`, Gradio's queue) on one core; the visitors are one
light load generator (asyncio, Gradio's HTTP API: upload, then `/gradio_api/call/<endpoint>` and its event stream)
on the other, so that the clients' own work does not slow the app down. Each visitor sends one request after
another (a closed loop: the sooner an answer or a refusal, the sooner the next request).

- classifier: good visitors upload a 640x480 photo of a digit; hostile ones a 10000x10000 PNG, a 20000x20000
  decompression bomb, 16-megapixel photos of noise (18 MB, over the upload limit, and 6 MB, within it), a 30 MB
  file and bytes that are no image.
- gan: good visitors ask for 16 digits; hostile ones for 64 (the most), 16-image interpolations, and garbage.
- ddpm: good visitors ask for 8 digits with DPM-Solver's 25 steps; hostile ones for 16 with DDPM's 1000 steps at
  guidance 10 (the most), the sampler comparison of the inside view, and garbage.
- gpt: good visitors ask for 200 characters; hostile ones for 1000 after a 2000-character prompt (the most), and
  garbage.

The bars: every good request answered; the classifier's slowest good answer at most 2 s and at most 3x its slowest
alone; the generative demos' good (cheap) requests at most 3x their time alone (median and slowest) while the
expensive ones run.

    python benchmarks/bench_demo_load.py --json bench_demo_load.json     # 20 + 20 visitors, 3 requests each
    python benchmarks/bench_demo_load.py --demos ddpm --quick            # 8 + 8, one request each
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import torch
from common import add_common_args, row, write_rows
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER_SLOWEST_BAR_S = 2.0  # the classifier's slowest good answer under load
RATIO_BAR = 3.0  # under load against alone
GARBAGE = [float("nan"), "lots", -1, 1e12, [1, 2], True]


@dataclass
class Demo:
    module: str
    good: list  # one request: (api_name, data); data items that are Paths are uploaded first
    hostile: list = field(default_factory=list)  # requests the hostile visitors take turns at
    check: object = None  # good answer -> an error message, or None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def classifier_files(folder: Path) -> tuple[Path, list[Path]]:
    """An ordinary photo of a digit, and the hostile files."""
    good = Image.new("RGB", (640, 480), (235, 230, 220))
    ImageDraw.Draw(good).line([(300, 120), (340, 100), (340, 380)], fill=(20, 20, 30), width=28)  # a "1" on paper
    good.save(folder / "good.jpg", quality=90)
    Image.new("L", (10_000, 10_000), 255).save(folder / "huge.png")
    Image.new("1", (20_000, 20_000), 1).save(folder / "bomb.png")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (4000, 4000, 3), dtype=np.uint8))
    noise.save(folder / "noise-18mb.jpg", quality=95)
    noise.save(folder / "noise-6mb.jpg", quality=50)
    (folder / "big.png").write_bytes(os.urandom(30 * 2**20))
    (folder / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(5000))
    names = ["huge.png", "bomb.png", "noise-18mb.jpg", "noise-6mb.jpg", "big.png", "garbage.png"]
    return folder / "good.jpg", [folder / name for name in names]


def demos(folder: Path) -> dict[str, Demo]:
    good_photo, hostile_files = classifier_files(folder)
    long_prompt = ("ROMEO:\nBut soft, what light through yonder window breaks?\n" * 40)[:2000]
    return {
        "classifier": Demo(
            "spaces.classifier.app",
            ("classify", [good_photo]),
            [("classify", [path]) for path in hostile_files],
            lambda out: None if out[0].get("label") == "1" else f"answered {out[0].get('label')!r}",
        ),
        "gan": Demo(
            "spaces.gan.app",
            ("generate", ["3", 0, 16]),
            [("generate", ["random", 1, 64]), ("interpolate", ["5", 0, 1, 16])]
            + [("generate", ["3", value, 16]) for value in GARBAGE],
        ),
        "ddpm": Demo(
            "spaces.ddpm.app",
            ("generate", ["3", 1.2, "DPM-Solver", 25, 8, 0]),
            [("generate", ["random", 10, "DDPM", 1000, 16, 1]), ("compare", ["4", 0])]
            + [("generate", ["3", 1.2, "DPM-Solver", value, 8, 0]) for value in GARBAGE],
            lambda out: None if str(out[-1]).startswith("done: 8 images") else f"ended with {out[-1]!r}",
        ),
        "gpt": Demo(
            "spaces.gpt.app",
            ("write", ["ROMEO:", 0.8, 40, 0.95, 200]),
            [("write", [long_prompt, 0.8, 40, 0.95, 1000])]
            + [("write", ["ROMEO:", 0.8, 40, 0.95, value]) for value in GARBAGE],
            lambda out: None if len(out[0]) >= len("ROMEO:") + 150 else f"wrote {len(out[0])} characters",
        ),
    }


def start_app(module: str, port: int, log: Path, core: int | None) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="0")
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    with open(log, "wb") as handle:  # a pipe nobody reads would fill up and stall the app
        process = subprocess.Popen(
            [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=pin
        )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{module} exited: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"{module} did not start within 300 s.")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def call(client: httpx.AsyncClient, api_name: str, data: list) -> tuple[bool, object]:
    """One request as a visitor's browser makes it: files uploaded, the call queued, its events read to the end.
    Returns (answered, the outputs) or (False, what refused it)."""
    payload = []
    for item in data:
        if isinstance(item, Path):
            with open(item, "rb") as handle:
                response = await client.post("/gradio_api/upload", files={"files": (item.name, handle)})
            if response.status_code != 200:
                return False, f"upload refused: HTTP {response.status_code} {response.text[:120]}"
            item = {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}
        payload.append(item)
    response = await client.post(f"/gradio_api/call/{api_name}", json={"data": payload})
    if response.status_code != 200:
        return False, f"HTTP {response.status_code} {response.text[:120]}"
    event_id = response.json()["event_id"]
    event = None
    async with client.stream("GET", f"/gradio_api/call/{api_name}/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                return event == "complete", data
    return False, "the event stream ended without an answer"


async def good_visitor(client, demo: Demo, requests: int, latencies: list, failures: list) -> None:
    api_name, data = demo.good
    for _ in range(requests):
        start = time.perf_counter()
        answered, output = await call(client, api_name, data)
        latencies.append(time.perf_counter() - start)
        problem = (None if demo.check is None else demo.check(output)) if answered else str(output)[:160]
        if problem:
            failures.append(problem)


async def hostile_visitor(client, demo: Demo, offset: int, outcomes: dict) -> None:
    index = offset
    while True:
        api_name, data = demo.hostile[index % len(demo.hostile)]
        index += 1
        label = f"/{api_name} {[d.name if isinstance(d, Path) else d for d in data]}"[:90]
        try:
            answered, output = await call(client, api_name, data)
        except httpx.HTTPError as error:
            answered, output = False, type(error).__name__
        outcomes.setdefault(label, []).append("answered" if answered else str(output)[:100])


async def run(url: str, demo: Demo, users: int, requests: int, hostile: bool, app_pid: int) -> dict:
    limits = httpx.Limits(max_connections=4 * users, max_keepalive_connections=4 * users)
    timeout = httpx.Timeout(600.0)
    latencies, failures, outcomes = [], [], {}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        attackers = []
        if hostile:
            attackers = [asyncio.create_task(hostile_visitor(client, demo, i, outcomes)) for i in range(users)]
            await asyncio.sleep(5)  # the expensive work is running when the good visitors arrive
        cpu_start, start = cpu_seconds(app_pid), time.perf_counter()
        await asyncio.gather(*(good_visitor(client, demo, requests, latencies, failures) for _ in range(users)))
        wall, cpu = time.perf_counter() - start, cpu_seconds(app_pid) - cpu_start
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
    return {"latencies": latencies, "failures": failures, "outcomes": outcomes, "app_cpu_s": cpu, "wall_s": wall}


def measure(name: str, demo: Demo, users: int, requests: int, folder: Path, cores: list[int]) -> dict:
    port = free_port()
    app_core, client_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    app = start_app(demo.module, port, folder / f"{name}.log", app_core)
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(run(url, demo, 2, 1, False, app.pid))  # warm-up
        alone = asyncio.run(run(url, demo, users, requests, False, app.pid))
        loaded = asyncio.run(run(url, demo, users, requests, True, app.pid))
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
    return {"alone": alone, "loaded": loaded}


def report(name: str, result: dict, users: int, device) -> dict:
    alone, loaded = result["alone"], result["loaded"]
    for label, run_result in (("alone", alone), ("under load", loaded)):
        times = sorted(run_result["latencies"])
        print(
            f"{name} good visitors {label}: {len(times)} requests, median {statistics.median(times):.2f} s, slowest "
            f"{times[-1]:.2f} s, failures {len(run_result['failures'])} {run_result['failures'][:2]}; the app used "
            f"{run_result['app_cpu_s']:.1f} CPU s in {run_result['wall_s']:.1f} s"
        )
    for label, answers in sorted(loaded["outcomes"].items()):
        refusals = sorted({a for a in answers if a != "answered"})
        print(f"  hostile {label}: {len(answers)} sent, {answers.count('answered')} answered; {refusals[:2]}")
    median_alone, median = statistics.median(alone["latencies"]), statistics.median(loaded["latencies"])
    slowest_alone, slowest = max(alone["latencies"]), max(loaded["latencies"])
    ratio = max(median / median_alone, slowest / slowest_alone)
    answered_all = not alone["failures"] and not loaded["failures"]
    holds = ratio <= RATIO_BAR and answered_all and (name != "classifier" or slowest <= CLASSIFIER_SLOWEST_BAR_S)
    result_row = row(
        f"{name} demo: slowest good answer, {users} good + {users} hostile visitors",
        slowest,
        "s",
        device,
        peer=f"the same {users} good visitors alone",
        ratio=ratio,
        bar=RATIO_BAR,
        bar_kind="max",
        median_s=round(median, 3),
        median_alone_s=round(median_alone, 3),
        slowest_alone_s=round(slowest_alone, 3),
        good_requests=len(loaded["latencies"]),
        good_failures=len(alone["failures"]) + len(loaded["failures"]),
        hostile_sent=sum(len(a) for a in loaded["outcomes"].values()),
        hostile_answered=sum(a.count("answered") for a in loaded["outcomes"].values()),
        app_cpu_s_alone=round(alone["app_cpu_s"], 2),
        app_cpu_s_loaded=round(loaded["app_cpu_s"], 2),
        wall_s_loaded=round(loaded["wall_s"], 1),
    )
    result_row["holds"] = holds
    print(
        f"{name}: median {median:.2f} s ({median / median_alone:.2f}x alone), slowest {slowest:.2f} s "
        f"({slowest / slowest_alone:.2f}x alone); every good request answered: {answered_all}; holds: {holds}"
    )
    return result_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument(
        "--users", type=int, default=None, help="Good visitors, and as many hostile ones (default 20; --quick: 8)."
    )
    parser.add_argument("--demos", default="classifier,gan,ddpm,gpt", help="Which demos, comma-separated.")
    args = parser.parse_args()
    args.users = args.users or (8 if args.quick else 20)
    requests = 1 if args.quick else 3
    device = torch.device("cpu")  # the demos run on the Space's CPU
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"apps on core {cores[:1]}, visitors on core {cores[1:2]} (none: shared)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        specs = demos(Path(folder))
        for name in [n.strip() for n in args.demos.split(",") if n.strip()]:
            if name not in specs:
                raise SystemExit(f"--demos: unknown demo {name!r}; choose from {', '.join(specs)}.")
            result = measure(name, specs[name], args.users, requests, Path(folder), cores)
            rows.append(report(name, result, args.users, device))
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
