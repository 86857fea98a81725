"""The classifier demo under hostile load: 20 users who upload ordinary photos of digits while 20 others send garbage
(a 10000x10000 image, a 20000x20000 decompression bomb, 16-megapixel photos of noise of 6 and 18 MB, a 30 MB file,
bytes that are no image), against the same 20 users alone, measured in the same run.

The app runs as a user runs it (`python -m spaces.classifier.app`, Gradio's queue) in its own process; the
clients are `gradio_client` threads, the hostile ones in a process of their own. With `--server_cores N` (default:
half the cores), the app runs on N cores and the clients on the others, as when the users are elsewhere: the
clients' own work (40 of them sending files) then does not slow the server down. The bar: the good users' slowest
answer within a few seconds (5 s), every good request answered, and each hostile one refused with a message.

    python benchmarks/bench_demo_load.py --json bench_demo_load.json
"""

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from common import add_common_args, row, write_rows
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
APP = "spaces.classifier.app"  # run as a module from the repository root
BAR_SECONDS = 5.0  # the slowest good answer under hostile load


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_files(folder: Path) -> tuple[Path, dict[str, Path]]:
    """An ordinary photo of a digit, and the hostile files."""
    good = Image.new("RGB", (640, 480), (235, 230, 220))
    ImageDraw.Draw(good).line([(300, 120), (340, 100), (340, 380)], fill=(20, 20, 30), width=28)  # a "1" on paper
    good_path = folder / "good.jpg"
    good.save(good_path, quality=90)

    hostile = {}
    hostile["10000x10000.png"] = folder / "huge.png"
    Image.new("L", (10_000, 10_000), 255).save(hostile["10000x10000.png"])
    hostile["20000x20000 bomb.png"] = folder / "bomb.png"
    Image.new("1", (20_000, 20_000), 1).save(hostile["20000x20000 bomb.png"])
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (4000, 4000, 3), dtype=np.uint8))
    hostile["16 MP noise, 18 MB.jpg"] = folder / "noise-large.jpg"
    noise.save(hostile["16 MP noise, 18 MB.jpg"], quality=95)
    hostile["16 MP noise, 6 MB.jpg"] = folder / "noise.jpg"  # within the upload limit: decoded
    noise.save(hostile["16 MP noise, 6 MB.jpg"], quality=50)
    hostile["30 MB file.png"] = folder / "big.png"
    hostile["30 MB file.png"].write_bytes(os.urandom(30 * 2**20))
    hostile["not an image.png"] = folder / "garbage.png"
    hostile["not an image.png"].write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(5000))
    return good_path, hostile


def split_cores(server_cores: int) -> tuple[set[int] | None, set[int] | None]:
    """(the app's cores, the clients' cores), or (None, None) to share them all (0, or one core only)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if server_cores <= 0 or len(cores) < 2:
        return None, None
    server_cores = min(server_cores, len(cores) - 1)
    return set(cores[:server_cores]), set(cores[server_cores:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_app(port: int, log: Path, cores: set[int] | None) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="0")
    if cores is not None:
        env.update(OMP_NUM_THREADS=str(len(cores)), MKL_NUM_THREADS=str(len(cores)))
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores is not None else None
    # The app's log goes to a file: a pipe nobody reads would fill up and stall the app once errors are logged.
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", APP], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=pin
        )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"The app exited: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.5)
    process.kill()
    raise SystemExit("The app did not start within 180 s.")


def connect(url: str, count: int) -> list:
    """Clients made one after the other, as users open the page: the load measured is that of their requests."""
    from gradio_client import Client

    return [Client(url, verbose=False) for _ in range(count)]


def good_user(client, path: Path, requests: int, latencies: list, failures: list) -> None:
    from gradio_client import handle_file

    for _ in range(requests):
        start = time.perf_counter()
        try:
            scores = client.predict(handle_file(str(path)), api_name="/classify")[0]
            if scores.get("label") != "1":
                failures.append(f"answered {scores.get('label')!r}")
        except Exception as error:  # any failure of a good request counts against the bar
            failures.append(repr(error)[:200])
        latencies.append(time.perf_counter() - start)


def hostile_user(client, files: dict[str, Path], stop: threading.Event, outcomes: dict) -> None:
    from gradio_client import handle_file

    names = list(files)
    index = 0
    while not stop.is_set():
        name = names[index % len(names)]
        index += 1
        try:
            client.predict(handle_file(str(files[name])), api_name="/classify")
            outcomes.setdefault(name, []).append("answered")
        except Exception as error:
            outcomes.setdefault(name, []).append(str(error).splitlines()[0][:160] if str(error) else repr(error))


def attack(url: str, files: dict[str, Path], users: int, stop, results) -> None:
    """The hostile users, in a process of their own: their uploads do not hold the good users' Python (GIL) up, as
    when they are elsewhere on the network. Their outcomes go back through `results` once `stop` is set."""
    outcomes = {}
    threads = [
        threading.Thread(target=hostile_user, args=(client, files, stop, outcomes), daemon=True)
        for client in connect(url, users)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    results.put(outcomes)


def run(url: str, good_path: Path, hostile: dict[str, Path] | None, users: int, requests: int, app_pid: int) -> dict:
    latencies, failures, outcomes = [], [], {}
    threads = [
        threading.Thread(target=good_user, args=(client, good_path, requests, latencies, failures))
        for client in connect(url, users)
    ]
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    attackers = context.Process(target=attack, args=(url, hostile, users, stop, results)) if hostile else None
    cpu_start, start = cpu_seconds(app_pid), time.perf_counter()
    if attackers:
        attackers.start()
        time.sleep(8)  # the clients have connected and the garbage is already coming when the good users arrive
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - start, cpu_seconds(app_pid) - cpu_start
    if attackers:
        stop.set()
        outcomes = results.get(timeout=120)
        attackers.join(timeout=30)
    return {"latencies": latencies, "failures": failures, "outcomes": outcomes, "app_cpu_s": cpu, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--users", type=int, default=20, help="Good users, and as many hostile ones.")
    parser.add_argument(
        "--server_cores",
        type=int,
        default=max(1, len(os.sched_getaffinity(0)) // 2) if hasattr(os, "sched_getaffinity") else 0,
        help="Cores of the app; the clients get the others (0: everything shares every core).",
    )
    args = parser.parse_args()
    requests = 2 if args.quick else 5
    device = torch.device("cpu")  # the demo runs on the Space's CPU

    with tempfile.TemporaryDirectory() as folder:
        good_path, hostile = make_files(Path(folder))
        port = free_port()
        server_cores, client_cores = split_cores(args.server_cores)
        app = start_app(port, Path(folder) / "app.log", server_cores)
        if client_cores is not None:
            os.sched_setaffinity(0, client_cores)
            torch.set_num_threads(len(client_cores))
        print(f"app on cores {sorted(server_cores or [])} , clients on {sorted(client_cores or [])} (empty: shared)")
        url = f"http://127.0.0.1:{port}/"
        try:
            run(url, good_path, None, 2, 1, app.pid)  # warm-up
            alone = run(url, good_path, None, args.users, requests, app.pid)
            attacked = run(url, good_path, hostile, args.users, requests, app.pid)
        finally:
            app.terminate()
            app.wait(timeout=30)

    rows = []
    for name, result in (("alone", alone), ("under attack", attacked)):
        latencies = sorted(result["latencies"])
        print(
            f"good users {name}: {len(latencies)} requests, median {statistics.median(latencies):.2f} s, "
            f"slowest {latencies[-1]:.2f} s, failures {len(result['failures'])} {result['failures'][:3]}; the app "
            f"used {result['app_cpu_s']:.1f} CPU s in {result['wall_s']:.1f} s"
        )
    for name, answers in sorted(attacked["outcomes"].items()):
        print(f"  hostile {name}: {len(answers)} sent; {sorted(set(answers))[:2]}")
    slowest_alone, slowest = max(alone["latencies"]), max(attacked["latencies"])
    rows.append(
        row(
            "classifier demo: slowest good answer, 20 good + 20 hostile users",
            slowest,
            "s",
            device,
            peer="the same 20 good users alone",
            ratio=slowest / slowest_alone,
            bar=BAR_SECONDS,
            bar_kind="max",
            bar_on="value",
            median_s=statistics.median(attacked["latencies"]),
            median_alone_s=statistics.median(alone["latencies"]),
            good_failures=len(attacked["failures"]),
            hostile_answered=sum(a.count("answered") for a in attacked["outcomes"].values()),
            hostile_sent=sum(len(a) for a in attacked["outcomes"].values()),
            server_cores=sorted(server_cores) if server_cores else "shared",
            app_cpu_s_alone=round(alone["app_cpu_s"], 2),
            app_cpu_s_attacked=round(attacked["app_cpu_s"], 2),
        )
    )
    good = rows[0]["holds"] and not attacked["failures"] and rows[0]["hostile_answered"] == 0
    rows[0]["holds"] = good
    print(
        f"slowest good answer {slowest:.2f} s under attack, {slowest_alone:.2f} s alone (bar {BAR_SECONDS} s); "
        f"hostile requests answered: {rows[0]['hostile_answered']}; holds: {good}"
    )
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
