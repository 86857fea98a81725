"""Shared fixtures: paths to the real datasets beside the checkout, small synthetic datasets, tiny models."""

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

# pytest-xdist runs one worker per core: each worker and the processes its tests start get their share of the cores,
# so that torch's threads do not oversubscribe them (set before torch is imported, and inherited by subprocesses).
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(_threads))

from tests.helpers.datasets import make_image_dataset  # noqa: E402  (after the thread settings)

# No test talks to the real Hub: fail fast instead of retrying unreachable hosts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("HFNETS_SHARED_DIR", REPO_ROOT.parent / "shared"))
MNIST_DIR = SHARED_DIR / "datasets" / "mnist"
SHAKESPEARE_DIR = SHARED_DIR / "datasets" / "tiny_shakespeare"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full MNIST dataset in the Hub layout of ylecun/mnist, read in place."""
    if not (MNIST_DIR / "README.md").is_file():
        pytest.skip(f"needs the MNIST copy at {MNIST_DIR} (../shared/datasets/mnist beside the checkout)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def shakespeare_dir() -> Path:
    """Tiny Shakespeare in the Hub layout of karpathy/tiny_shakespeare, read in place."""
    if not (SHAKESPEARE_DIR / "README.md").is_file() and not (SHAKESPEARE_DIR / "data").is_dir():
        pytest.skip(f"needs the Tiny Shakespeare copy at {SHAKESPEARE_DIR} (../shared/datasets/tiny_shakespeare)")
    return SHAKESPEARE_DIR


@pytest.fixture(scope="session")
def mnist_test_arrays(mnist_dir):
    """The first 2,000 MNIST test images as uint8 (N, 28, 28) and their labels."""
    from datasets import load_dataset

    test = load_dataset(str(mnist_dir), split="test").select(range(2000))
    return test.with_format("numpy")[:]["image"], test.with_format("numpy")[:]["label"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_script(args: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a Python script or module of the repository in a fresh process, from the repository root.

    Every process of the run (the launcher, and the ranks it starts in sessions of their own) carries a marker in its
    environment. A run that outlives `timeout`, or leaves a process running after it returned (a rank stuck at
    exit), fails the test with the Python stack of each such process (faulthandler, on SIGABRT), and leaves nothing
    behind. The output goes to files, not pipes: a stuck rank holding a pipe cannot block the test."""
    import psutil

    marker = uuid.uuid4().hex
    full_env = {**os.environ, "PYTHONFAULTHANDLER": "1", "HFNETS_TEST_RUN": marker, **(env or {})}

    def run_processes() -> list:
        found = []
        for candidate in psutil.process_iter():
            try:
                if candidate.environ().get("HFNETS_TEST_RUN") == marker:
                    found.append(candidate)
            except (psutil.Error, OSError):
                continue
        return found

    def stop(processes: list, sig: int) -> None:
        for member in processes:
            try:
                member.send_signal(sig)
            except psutil.Error:
                pass
        psutil.wait_procs(processes, timeout=30)

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        problem = None
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            problem = f"did not finish within {timeout} s"
        left = run_processes()
        if left and problem is None:
            problem = f"returned but left {len(left)} process(es) running (stuck at exit)"
        if left:
            stop(left, signal.SIGABRT)  # faulthandler prints each one's stack into the output
            stop(run_processes(), signal.SIGKILL)
        process.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if problem is not None:
        pytest.fail(
            f"{' '.join(args)} {problem}. Its output, then the stacks when stopped:\n{stdout[-3000:]}\n"
            f"{stderr[-12000:]}"
        )
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def shipped_mlp_dir() -> Path:
    """The MLP that ships with hfnets (pretrained/mnist-mlp): for tests that need a well-trained classifier."""
    folder = REPO_ROOT / "pretrained" / "mnist-mlp"
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"needs the shipped model at {folder}")
    return folder


@pytest.fixture(scope="session")
def trained_mlp_dir(mnist_dir, tmp_path_factory) -> Path:
    """An MLP trained by scripts/train_mlp.py on all of MNIST for 3 epochs: the tests of that script's output."""
    output_dir = tmp_path_factory.mktemp("trained") / "mnist-mlp"
    result = run_script(
        [
            "scripts/train_mlp.py",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(output_dir),
            "--num_train_epochs",
            "3",
            "--card_dataset_id",
            "ylecun/mnist",
        ]
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return output_dir


@pytest.fixture(scope="session")
def trained_judge_dir(mnist_dir, tmp_path_factory) -> Path:
    """The judge of generated digits at its recipe (the CNN on MNIST, 6 epochs, about 5 minutes): for slow tests.
    Trained once per test run, by whichever worker asks first (two trainings at once on 2 cores take far longer)."""

    def build(folder: Path) -> None:
        result = run_script(
            [
                "scripts/train_cnn.py",
                *("--random_rotation", "0", "--random_shift", "0", "--random_scale", "0"),
                *("--per_device_train_batch_size", "256", "--learning_rate", "3e-3"),
                "--num_train_epochs",
                "6",
                "--dataset_name",
                str(mnist_dir),
                "--output_dir",
                str(folder / "mnist-judge"),
                "--report_to",
                "none",
            ],
            timeout=1800,
        )
        assert result.returncode == 0, result.stderr[-4000:]

    return built_once(tmp_path_factory, "trained_judge", build) / "mnist-judge"


@pytest.fixture(scope="session")
def trained_gan_dir(mnist_dir, trained_judge_dir, tmp_path_factory) -> Path:
    """The GAN at its default recipe, judged (20 epochs, about 8 minutes): for slow tests."""
    output_dir = tmp_path_factory.mktemp("trained") / "mnist-gan"
    result = run_script(
        [
            "scripts/train_gan.py",
            "--dataset_name",
            str(mnist_dir),
            "--output_dir",
            str(output_dir),
            "--judge_model",
            str(trained_judge_dir),
            "--report_to",
            "none",
        ],
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return output_dir


SONNET = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` once per test run, however many xdist workers ask: the first builds `folder` under the run's
    shared temporary root while the others wait on a lock, then all read it (as read-only)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # one per run, above each worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def trained_dirs(tmp_path_factory) -> dict[str, Path]:
    """A few steps of each training script on made-up data: real output folders (weights, code, card, samples),
    trained once per test run."""
    root = built_once(tmp_path_factory, "trained_small", build_small_runs)
    return {family: root / family for family in ("mlp", "cnn", "gan", "ddpm", "gpt", "rnn")}


def load_script(name: str):
    """`scripts/<name>.py` as a module, for in-process calls of its `parse_args` or `main(argv)`."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(script: str, argv: list[str]) -> dict:
    """A training script's `main(argv)` in this process (its imports are paid once, not per run); the Accelerator
    state is reset afterwards, so that the next run starts afresh."""
    from accelerate.state import AcceleratorState

    try:
        return load_script(Path(script).stem).main(argv)
    finally:
        AcceleratorState._reset_state(True)


def build_small_runs(root: Path) -> None:
    digits = make_image_dataset(root / "digits", num_rows=40, num_classes=10)
    (root / "train.txt").write_text(SONNET * 30)
    (root / "validation.txt").write_text(SONNET * 3)
    common = ["--report_to", "none", "--max_train_steps", "2"]
    mnist = ["--dataset_name", str(digits), "--card_dataset_id", "ylecun/mnist"]
    runs = {
        "mlp": ["scripts/train_mlp.py", *mnist, "--per_device_train_batch_size", "16"],
        "cnn": [
            "scripts/train_cnn.py",
            *mnist,
            *("--per_device_train_batch_size", "16", "--conv_channels", "4", "8", "--hidden_size", "16"),
        ],
        "gan": [
            "scripts/train_gan.py",
            *mnist,
            "--per_device_train_batch_size",
            "40",  # one step an epoch: the two steps are two epochs of history
            "--base_channels",
            "8",
            "--latent_dim",
            "8",
        ],
        "ddpm": [
            "scripts/train_ddpm.py",
            *mnist,
            "--per_device_train_batch_size",
            "16",
            "--block_out_channels",
            "16,32",
            "--layers_per_block",
            "1",
            "--num_inference_steps",
            "2",
        ],
        "gpt": [
            "scripts/train_gpt.py",
            "--train_file",
            str(root / "train.txt"),
            "--validation_file",
            str(root / "validation.txt"),
            "--config_overrides",
            "n_layer=1,n_head=2,n_embd=16,n_positions=32,dropout=0.0",
            "--per_device_train_batch_size",
            "4",
            "--sample_length",
            "8",
            "--card_dataset_id",
            "karpathy/tiny_shakespeare",
        ],
        "rnn": [
            "scripts/train_rnn.py",
            *("--train_file", str(root / "train.txt"), "--validation_file", str(root / "validation.txt")),
            *("--config_overrides", "hidden_size=16,num_layers=1", "--per_device_train_batch_size", "4"),
            *("--block_size", "16", "--eval_streams", "2", "--sample_length", "8"),
            *("--card_dataset_id", "karpathy/tiny_shakespeare"),
        ],
    }
    for family, (script, *args) in runs.items():
        run_in_process(script, [*args, "--output_dir", str(root / family), *common])
