import json
from types import SimpleNamespace

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from hfnets import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor
from hfnets.atomic import write_json_atomically
from hfnets.training.checkpointing import (
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    resume_position,
    save_checkpoint,
    save_pretrained_atomically,
)


@pytest.fixture
def accelerator():
    accelerator = Accelerator(cpu=True)
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


def test_resume_position_continues_the_step_epoch_and_training_time(tmp_path, accelerator):
    model = accelerator.prepare(tiny_model())
    save_checkpoint(accelerator, tmp_path, step=7, model_config=model.config, train_runtime=12.5)
    args = SimpleNamespace(output_dir=tmp_path, resume_from_checkpoint="latest", gradient_accumulation_steps=2)
    # 7 optimizer steps at 3 per epoch: epoch 2 (0-based), 1 step (2 batches with accumulation 2) into it.
    assert resume_position(accelerator, args, model.config, None, num_update_steps_per_epoch=3) == (7, 2, 2, 12.5)
    args.resume_from_checkpoint = None
    assert resume_position(accelerator, args, model.config, None, num_update_steps_per_epoch=3) == (0, 0, 0, 0.0)
