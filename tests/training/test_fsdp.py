"""The GPT family shards correctly with PyTorch FSDP2 on CPU processes (gloo): two processes train to one process's
weights at the same global batch, each holding only its shard of the weights; a sharded checkpoint
(torch.distributed.checkpoint) resumes exactly; and the gathered full weights save a folder that transformers
loads. The run is tests/helpers/fsdp_gpt.py under `torch.distributed.run`."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.conftest import run_script

HELPER = "tests/helpers/fsdp_gpt.py"


def fsdp_run(output_dir, processes: int, *flags: str) -> None:
    result = run_script(
        ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), HELPER, "--output_dir", str(output_dir)]
        + list(flags),
        env={"OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def weights(output_dir) -> dict[str, torch.Tensor]:
    return load_file(output_dir / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fsdp")
    fsdp_run(folder / "one", 1)
    fsdp_run(folder / "two", 2)
    fsdp_run(folder / "resumed", 2, "--save_at", "3")
    fsdp_run(folder / "resumed", 2, "--resume")
    return folder


def test_two_sharded_processes_train_as_one(runs):
    one, two = weights(runs / "one"), weights(runs / "two")
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-5, msg=name)


def test_each_process_holds_only_its_shard(runs):
    ranks = [json.loads((runs / "two" / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    total = ranks[0]["total"]
    assert all(rank["world"] == 2 for rank in ranks)
    assert all(rank["held"] < total for rank in ranks)  # a slice each, not a copy
    assert sum(rank["held"] for rank in ranks) == total  # together, every weight once
    alone = json.loads((runs / "one" / "rank0.json").read_text())
    assert alone["held"] == alone["total"] == total


def test_a_sharded_checkpoint_resumes_exactly(runs):
    uninterrupted, resumed = weights(runs / "two"), weights(runs / "resumed")
    for name in uninterrupted:
        assert torch.equal(resumed[name], uninterrupted[name]), name


def test_the_gathered_weights_save_a_folder_transformers_loads(runs):
    # saved from the sharded model as the scripts save: its own code files, not torch's FSDP modules
    code = sorted(path.name for path in (runs / "two" / "model").glob("*.py"))
    assert code == ["configuration_gpt.py", "modeling_gpt.py"], code
    model = AutoModelForCausalLM.from_pretrained(runs / "two" / "model", trust_remote_code=True)
    saved = weights(runs / "two")
    for name, tensor in model.state_dict().items():
        if name in saved:
            assert torch.equal(tensor, saved[name]), name
    ids = torch.randint(0, model.config.vocab_size, (1, 8))
    assert model(input_ids=ids).logits.shape == (1, 8, model.config.vocab_size)
