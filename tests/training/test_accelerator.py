"""The accelerator path of the training scripts, exercised on CPU: the Accelerator as the scripts build it (compile,
unwrapping), fused optimizers, process-count-independent random draws, the mixed precision chosen by the hardware,
and the shipped accelerate configs."""

from types import SimpleNamespace

import pytest
import torch
from accelerate import Accelerator, DistributedType
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.state import AcceleratorState
from accelerate.utils import TorchDynamoPlugin

from hfnets import CharGptConfig, CharGptForCausalLM
from hfnets.training import accelerator as launch
from hfnets.training.accelerator import global_batch_rows, set_up_run, unwrap
from hfnets.training.optimization import build_optimizer
from hfnets.training.results import replicas_in_sync
from tests.conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "scripts" / "accelerate").glob("*.yaml"))


@pytest.fixture(autouse=True)
def reset_accelerator():
    yield
    AcceleratorState._reset_state(True)


def test_torch_compile_flag_compiles_in_prepare_and_unwrap_gives_the_plain_model(tmp_path):
    # as the scripts build it with --torch_compile
    accelerator = Accelerator(mixed_precision="no", dynamo_plugin=TorchDynamoPlugin(backend="inductor"))
    set_up_run(accelerator, seed=0)
    model = CharGptForCausalLM(CharGptConfig(vocab_size=11, n_layer=1, n_head=2, n_embd=8, n_positions=8))
    prepared = accelerator.prepare(model)
    assert isinstance(prepared, torch._dynamo.eval_frame.OptimizedModule)
    plain = unwrap(accelerator, prepared)
    assert plain is model and not any(key.startswith("_orig_mod") for key in plain.state_dict())
    ids = torch.randint(0, 11, (2, 8))
    torch.testing.assert_close(prepared(input_ids=ids).logits, model(input_ids=ids).logits, rtol=1e-4, atol=1e-5)


def test_optimizers_are_fused_on_cuda_only():
    accelerator = Accelerator(cpu=True)
    optimizer = build_optimizer(accelerator, [torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    assert isinstance(optimizer, torch.optim.AdamW) and not optimizer.defaults["fused"]
    adam = build_optimizer(accelerator, [torch.nn.Parameter(torch.zeros(2))], torch.optim.Adam, lr=1e-3)
    assert type(adam) is torch.optim.Adam


def test_random_draws_of_one_process_are_the_global_batch_draws():
    accelerator = Accelerator(cpu=True)
    size, rows = global_batch_rows(accelerator, 5)
    assert (size, rows) == (5, slice(0, 5))
    assert replicas_in_sync(torch.nn.Linear(2, 2), accelerator) is True


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_shipped_accelerate_configs_load(path):
    config = load_config_from_file(str(path))
    assert config.distributed_type.value in {"MULTI_GPU", "FSDP", "DEEPSPEED"}
    assert config.mixed_precision == "bf16" and config.num_processes >= 2
    if config.fsdp_config:
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] in CharGptForCausalLM._no_split_modules
    if config.deepspeed_config:
        assert config.deepspeed_config["zero_stage"] == 2


def test_configs_cover_ddp_fsdp_deepspeed_and_many_machines():
    assert {path.stem for path in CONFIGS} == {"multi_gpu", "multi_node", "fsdp", "deepspeed_zero2"}
    assert load_config_from_file(str(REPO_ROOT / "scripts/accelerate/multi_node.yaml")).num_machines == 2


@pytest.mark.parametrize(
    "native, launcher, requested, expected",
    [
        (True, None, "auto", "bf16"),  # a CPU with AVX512-BF16/AMX: bf16 by default
        (False, None, "auto", "no"),  # without it, float32: emulated bf16 is several times slower
        (False, "no", "auto", "no"),  # plain `accelerate launch` writes "no": still the hardware's choice
        (True, "no", "auto", "bf16"),
        (False, "fp16", "auto", "fp16"),  # `accelerate launch --mixed_precision fp16` decides
        (True, None, "no", "no"),  # the flag decides over everything
    ],
)
def test_auto_mixed_precision_follows_the_cpu(monkeypatch, native, launcher, requested, expected):
    monkeypatch.setattr(launch, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(launch, "_will_use_cpu", lambda: True)
    if launcher is None:
        monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    else:
        monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", launcher)
    assert launch.resolve_mixed_precision(requested) == expected


def test_explicit_bf16_on_a_cpu_without_it_warns_and_is_kept(monkeypatch, caplog):
    monkeypatch.setattr(launch, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(launch, "_will_use_cpu", lambda: True)
    with caplog.at_level("WARNING"):
        assert launch.resolve_mixed_precision("bf16") == "bf16"
    assert "without native bf16" in caplog.text and "--mixed_precision no" in caplog.text


def test_fsdp_asked_for_but_not_run_is_said(monkeypatch, caplog):
    """On CPUs accelerate sets FSDP up on GPUs only and quietly runs plain data parallelism: a script says what was
    asked and what runs, rather than pretend."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    accelerator = Accelerator(cpu=True)
    assert accelerator.distributed_type != DistributedType.FSDP  # what accelerate does on a CPU
    with caplog.at_level("WARNING"):
        launch.check_distributed(accelerator, "scripts/train_gpt.py", sharded_weights=True)
    assert "The launch configuration asks for FSDP (ACCELERATE_USE_FSDP), but accelerate runs NO" in caplog.text
    assert "the weights are not sharded" in caplog.text
    monkeypatch.delenv("ACCELERATE_USE_FSDP")
    assert launch.engine_not_running(accelerator) is None  # nothing asked for: nothing to say


def test_deepspeed_asked_for_but_not_run_is_said(monkeypatch):
    # accelerate itself needs deepspeed installed to build an Accelerator with it asked for: the state it then has
    # on a CPU (multi-process CPU data parallelism) stands in here
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    on_cpus = SimpleNamespace(distributed_type=DistributedType.MULTI_CPU, num_processes=2, device=torch.device("cpu"))
    said = launch.engine_not_running(on_cpus)
    assert said.startswith("The launch configuration asks for DEEPSPEED (ACCELERATE_USE_DEEPSPEED), but accelerate")
    assert "runs MULTI_CPU on 2 process(es) on cpu" in said
    running = SimpleNamespace(distributed_type=DistributedType.DEEPSPEED, num_processes=2, device=torch.device("cpu"))
    assert launch.engine_not_running(running) is None
