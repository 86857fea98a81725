import errno
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import ProjectConfiguration

from hfnets import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor
from hfnets.atomic import recover_folder, write_json_atomically
from hfnets.training.checkpointing import (
    TRAINING_STATE_FILE,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    resume_run,
    save_checkpoint,
    save_pretrained_atomically,
)
from tests.conftest import REPO_ROOT


@pytest.fixture
def accelerator(tmp_path):
    accelerator = Accelerator(cpu=True, project_config=ProjectConfiguration(tmp_path))
    yield accelerator
    AcceleratorState._reset_state(True)


def tiny_model(hidden: int = 8) -> MnistMlpForImageClassification:
    return MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[hidden]))


def test_save_pretrained_atomically_writes_a_loadable_folder(tmp_path):
    model = tiny_model()
    save_pretrained_atomically(tmp_path, model, MnistMlpImageProcessor())
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "modeling_mlp.py"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert not list(tmp_path.glob(".save-*"))
    loaded = MnistMlpForImageClassification.from_pretrained(tmp_path)
    assert torch.equal(loaded.classifier.weight, model.classifier.weight)


def test_an_interrupted_save_leaves_the_previous_model_intact(tmp_path):
    old = tiny_model()
    save_pretrained_atomically(tmp_path, old)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    class Interrupted:
        def save_pretrained(self, folder):
            raise KeyboardInterrupt("killed mid-save")

    with pytest.raises(KeyboardInterrupt):
        save_pretrained_atomically(tmp_path, tiny_model(hidden=16), Interrupted())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert MnistMlpForImageClassification.from_pretrained(tmp_path).config.hidden_sizes == [8]


def test_write_json_atomically(tmp_path):
    write_json_atomically(tmp_path / "all_results.json", {"eval_accuracy": 0.98})
    assert json.loads((tmp_path / "all_results.json").read_text()) == {"eval_accuracy": 0.98}
    assert [p.name for p in tmp_path.iterdir()] == ["all_results.json"]


def test_checkpoints_are_listed_by_step_and_unfinished_ones_ignored(tmp_path):
    for name in ("checkpoint-9", "checkpoint-10", "checkpoint-100", ".checkpoint-200.tmp", "checkpoint-x"):
        (tmp_path / name).mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-9", "checkpoint-10", "checkpoint-100"]
    assert list_checkpoints(tmp_path / "missing") == []


def test_resolve_checkpoint_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="holds no checkpoint-N folder to resume from"):
        resolve_checkpoint(tmp_path, "latest")
    (tmp_path / "checkpoint-3").mkdir()
    with pytest.raises(ValueError, match="is not a complete hfnets checkpoint"):
        resolve_checkpoint(tmp_path, str(tmp_path / "checkpoint-3"))


def test_checkpoint_round_trip_restores_weights_and_optimizer(tmp_path, accelerator):
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, optimizer = accelerator.prepare(model, optimizer)
    model(torch.randn(4, 784), labels=torch.tensor([0, 1, 2, 3])).loss.backward()
    optimizer.step()
    saved = save_checkpoint(accelerator, tmp_path, step=7, model_config=model.config, total_limit=2)
    assert saved.name == "checkpoint-7" and not list(tmp_path.glob(".checkpoint-*"))
    expected = model.classifier.weight.detach().clone()
    with torch.no_grad():
        model.classifier.weight.zero_()
    assert load_checkpoint(accelerator, resolve_checkpoint(tmp_path, "latest"), model.config) == 7
    assert torch.equal(model.classifier.weight, expected)

    for step in (8, 9):
        save_checkpoint(accelerator, tmp_path, step=step, total_limit=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-8", "checkpoint-9"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, accelerator):
    model, optimizer = accelerator.prepare(tiny_model(), torch.optim.AdamW(tiny_model().parameters()))
    checkpoint = save_checkpoint(accelerator, tmp_path, step=1)
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="(?s)Could not restore checkpoint .*corrupt, truncated or from a different"):
        load_checkpoint(accelerator, checkpoint)


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path, accelerator):
    model = accelerator.prepare(tiny_model(hidden=8))
    checkpoint = save_checkpoint(accelerator, tmp_path, step=1, model_config=model.config)
    with pytest.raises(
        ValueError, match=r"different model configuration \(hidden_sizes: checkpoint \[8\] vs now \[16\]"
    ):
        load_checkpoint(accelerator, checkpoint, MnistMlpConfig(hidden_sizes=[16]))


def test_checkpoint_with_other_batching_is_a_clear_error(tmp_path, accelerator):
    accelerator.prepare(tiny_model())
    batching = {"num_processes": 1, "per_device_train_batch_size": 64}
    checkpoint = save_checkpoint(accelerator, tmp_path, step=1, batching=batching)
    with pytest.raises(ValueError, match="Resuming with other processes, batch sizes or data"):
        load_checkpoint(accelerator, checkpoint, batching={"num_processes": 2, "per_device_train_batch_size": 64})
    assert load_checkpoint(accelerator, checkpoint, batching=dict(batching)) == 1


def test_pipeline_folders_are_saved_and_replaced_whole(tmp_path):
    import torch

    from hfnets import GanGenerator, GanPipeline

    torch.manual_seed(0)
    first = GanPipeline(GanGenerator(latent_dim=8, base_channels=4))
    save_pretrained_atomically(tmp_path, first)
    second = GanPipeline(GanGenerator(latent_dim=8, base_channels=8))
    save_pretrained_atomically(tmp_path, second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator", "model_index.json", "pipeline_gan.py"]
    assert GanGenerator.from_pretrained(tmp_path / "generator").config.base_channels == 8
    assert oct((tmp_path / "generator").stat().st_mode & 0o777) != oct(0o700)


def test_resume_run_continues_the_step_epoch_and_training_time_and_checkpoints_alike(tmp_path, accelerator):
    model = accelerator.prepare(tiny_model())
    accelerator.gradient_accumulation_steps = 2
    batching = {"per_device_train_batch_size": 4}
    fresh, checkpoint = resume_run(accelerator, None, [model], batching, num_update_steps_per_epoch=3)
    assert (fresh.completed_steps, fresh.starting_epoch, fresh.batches_to_skip, fresh.train_runtime) == (0, 0, 0, 0.0)
    saved = checkpoint(7, train_runtime=12.5)
    # the processes and the accumulation steps are recorded with the script's batching
    recorded = json.loads((saved / TRAINING_STATE_FILE).read_text())["batching"]
    assert recorded == {"num_processes": 1, "gradient_accumulation_steps": 2, "per_device_train_batch_size": 4}
    # 7 optimizer steps at 3 per epoch: epoch 2 (0-based), 1 step (2 batches with accumulation 2) into it.
    point, _ = resume_run(accelerator, "latest", [model], batching, 3)
    assert (point.completed_steps, point.starting_epoch, point.batches_to_skip, point.train_runtime) == (7, 2, 2, 12.5)
    # The checkpoint carries the batching and the model configuration: a resume with others is refused.
    with pytest.raises(ValueError, match="was saved with"):
        resume_run(accelerator, "latest", [model], {**batching, "per_device_train_batch_size": 8}, 3)
    with pytest.raises(ValueError, match="different model configuration"):
        resume_run(accelerator, "latest", [tiny_model(hidden=16)], batching, 3)
    accelerator.gradient_accumulation_steps = 1
    with pytest.raises(ValueError, match="was saved with"):  # other accumulation: another run
        resume_run(accelerator, "latest", [model], batching, 3)


def test_a_checkpoint_that_recorded_no_accumulation_steps_resumes(tmp_path, accelerator):
    """Checkpoints of the scripts without gradient accumulation recorded none (it was 1): they still resume."""
    accelerator.prepare(tiny_model())
    save_checkpoint(accelerator, tmp_path, step=2, batching={"num_processes": 1, "per_device_train_batch_size": 4})
    point, _ = resume_run(accelerator, "latest", [], {"per_device_train_batch_size": 4}, 3)
    assert point.completed_steps == 2
    with pytest.raises(ValueError, match="was saved with"):
        resume_run(accelerator, "latest", [], {"per_device_train_batch_size": 8}, 3)


def test_a_save_killed_at_any_moment_leaves_the_old_model_or_the_new_one(tmp_path):
    """kill -9 a process that keeps replacing the model in a folder: after each kill, the folder loads as one of the
    two models, whole, and the next save removes what the killed one left behind."""
    output_dir = tmp_path / "model"
    expected = {}
    for hidden in (32, 64):
        torch.manual_seed(hidden)
        expected[hidden] = MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[hidden])).classifier.weight
    (output_dir / "checkpoint-5").mkdir(parents=True)  # the run's own files stay through every save
    (output_dir / "checkpoint-5" / "optimizer.bin").write_bytes(b"state")
    delays = random.Random(0)
    # 1 to 4 completed saves before each kill, then a random moment during the saves that follow: at least 4 kills,
    # and more (up to 16) until each of the two models has been found after one (which one a kill leaves depends on
    # how many saves the moment spans, so 4 kills alone could all find the same one)
    seen = set()
    for kill in range(16):
        if kill >= 4 and seen == {32, 64}:
            break
        saves = delays.randint(1, 4)
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "tests" / "helpers" / "save_forever.py"), str(output_dir)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"
        for _ in range(saves):  # let that many saves complete, then kill during one of the next
            assert process.stdout.readline().startswith("saved")
        time.sleep(delays.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        recover_folder(output_dir)
        model = MnistMlpForImageClassification.from_pretrained(output_dir)
        hidden = model.config.hidden_sizes[0]
        assert torch.equal(model.classifier.weight, expected[hidden])
        assert MnistMlpImageProcessor.from_pretrained(output_dir).image_size == 28
        assert (output_dir / "checkpoint-5" / "optimizer.bin").read_bytes() == b"state"
        assert not list(tmp_path.glob(".model.*"))
        seen.add(hidden)
    assert seen == {32, 64}  # kills came while each of the two was being replaced by the other


def test_replacing_a_model_of_another_kind_keeps_nothing_of_it_but_the_runs_files(tmp_path):
    from hfnets import GanGenerator, GanPipeline

    save_pretrained_atomically(tmp_path, GanPipeline(GanGenerator(latent_dim=8, base_channels=4)))
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "step-10.png").write_bytes(b"png")
    (tmp_path / "all_results.json").write_text("{}")
    save_pretrained_atomically(tmp_path, tiny_model(), MnistMlpImageProcessor())
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "model_index.json" not in names and "generator" not in names and "pipeline_gan.py" not in names
    assert {"config.json", "model.safetensors", "samples", "all_results.json"} <= set(names)


def test_files_saved_with_the_model_are_swapped_in_with_it(tmp_path):
    """The run's card, results and pictures go in with the model in one swap: an earlier run's are replaced or (None)
    left out, never left beside a model they do not describe."""
    output_dir = tmp_path / "model"
    old = {"README.md": "old card", "all_results.json": "{}", "mistakes.png": b"old picture", "notes.txt": "kept"}
    save_pretrained_atomically(output_dir, tiny_model(), files=old)
    assert (output_dir / "mistakes.png").read_bytes() == b"old picture"
    new = {"README.md": "new card", "all_results.json": '{"eval_accuracy": 1.0}', "mistakes.png": None}
    save_pretrained_atomically(output_dir, tiny_model(hidden=16), files=new)
    assert (output_dir / "README.md").read_text() == "new card"
    assert (output_dir / "all_results.json").read_text() == '{"eval_accuracy": 1.0}'
    assert not (output_dir / "mistakes.png").exists()  # the earlier run's picture would contradict the new card
    assert (output_dir / "notes.txt").read_text() == "kept"  # what this run does not write stays
    assert MnistMlpForImageClassification.from_pretrained(output_dir).config.hidden_sizes == [16]


def test_a_full_disk_is_a_clear_error_and_leaves_the_folder_as_it_was(tmp_path):
    output_dir = tmp_path / "model"
    save_pretrained_atomically(output_dir, tiny_model())
    before = {p.name: p.read_bytes() for p in output_dir.iterdir()}

    class DiskFull:
        def save_pretrained(self, folder):
            (Path(folder) / "half-written.bin").write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=f"No space left to save the model into {output_dir}: it still holds"):
        save_pretrained_atomically(output_dir, tiny_model(hidden=16), DiskFull())
    assert {p.name: p.read_bytes() for p in output_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_full_disk_in_safetensors_own_words_is_the_same_clear_error(tmp_path, accelerator):
    """safetensors reports a failed write as a SafetensorError, not an OSError: the final save and a checkpoint say
    what happened, in one line, and leave nothing half-written."""
    from safetensors import SafetensorError

    full = 'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
    output_dir = tmp_path / "model"
    save_pretrained_atomically(output_dir, tiny_model())
    before = {p.name: p.read_bytes() for p in output_dir.iterdir()}

    class DiskFull:
        def save_pretrained(self, folder):
            (Path(folder) / "half-written.safetensors").write_bytes(b"x")
            raise SafetensorError(full)

    with pytest.raises(OSError, match=f"No space left to save the model into {output_dir}: it still holds"):
        save_pretrained_atomically(output_dir, tiny_model(hidden=16), DiskFull())
    assert {p.name: p.read_bytes() for p in output_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]

    accelerator.prepare(tiny_model())

    def save_state(folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        raise SafetensorError(full)

    accelerator.save_state = save_state  # the state write of this Accelerator object fails as on a full disk
    with pytest.raises(
        OSError, match="Could not save checkpoint .*checkpoint-3 .*SafetensorError.*partial checkpoint was removed"
    ):
        save_checkpoint(accelerator, tmp_path / "run", step=3)
    assert list((tmp_path / "run").iterdir()) == []


def test_a_folder_moved_aside_by_a_killed_replacement_is_put_back(tmp_path):
    # Where the two folders cannot be swapped in one step, the old one is moved aside first; a kill right then
    # leaves no folder at all, until recover_folder (called by every save and run start) restores it.
    output_dir = tmp_path / "model"
    save_pretrained_atomically(output_dir, tiny_model())
    aside = tmp_path / ".model.old-abc"
    aside.mkdir()
    output_dir.rename(aside / "folder")
    (tmp_path / ".model.save-def").mkdir()
    recover_folder(output_dir)
    assert MnistMlpForImageClassification.from_pretrained(output_dir).config.hidden_sizes == [8]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_checkpoint_that_cannot_be_written_is_removed_and_named(tmp_path, accelerator, monkeypatch):
    model = accelerator.prepare(tiny_model())
    save_checkpoint(accelerator, tmp_path, step=1)

    def disk_full(folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(accelerator, "save_state", disk_full)
    with pytest.raises(OSError, match="Could not save checkpoint .*checkpoint-2 .*iostream error.*MiB are free"):
        save_checkpoint(accelerator, tmp_path, step=2, model_config=model.config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-1"]


def test_the_current_folder_cannot_be_replaced_as_a_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ValueError, match="it is \\(or holds\\) the current folder, and the saved model replaces the output folder"
    ):
        save_pretrained_atomically(".", tiny_model())
    save_pretrained_atomically("model", tiny_model())  # a subfolder is fine
    assert (tmp_path / "model" / "config.json").is_file()
