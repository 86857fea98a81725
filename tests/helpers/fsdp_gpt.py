"""Train a small CharGpt with PyTorch FSDP2 (`fully_shard` over each `_no_split_modules` block, then the whole
model) on CPU processes, for tests/training/test_fsdp.py. Run under `torch.distributed.run` (any number of
processes, gloo): every step reads the same global batch, each process its own rows of it, so any process count
trains alike. Writes, in --output_dir: `rank<N>.json` (the parameters this process holds, against the model's), the
gathered full weights as a `save_pretrained` folder (`model/`, by rank 0), and with --save_at a sharded checkpoint
(torch.distributed.checkpoint) after that step, where the run stops; --resume continues from it.

    python -m torch.distributed.run --nproc_per_node 2 tests/helpers/fsdp_gpt.py --output_dir out --steps 6
"""

import argparse
import json
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from accelerate import Accelerator
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard

from hfnets import CharGptConfig, CharGptForCausalLM
from hfnets.training.checkpointing import save_pretrained_atomically
from hfnets.training.results import check_finite_weights

GLOBAL_BATCH, BLOCK, VOCAB = 8, 16, 17


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--save_at", type=int, default=None, help="Save a sharded checkpoint after this step, stop.")
    parser.add_argument("--resume", action="store_true", help="Continue from the sharded checkpoint.")
    return parser.parse_args()


def sharded_model() -> CharGptForCausalLM:
    torch.manual_seed(0)  # every process builds the same weights; fully_shard keeps each one's slice
    config = CharGptConfig(vocab_size=VOCAB, n_layer=2, n_head=2, n_embd=16, n_positions=BLOCK, dropout=0.0)
    model = CharGptForCausalLM(config)
    blocks = tuple(model._no_split_modules)
    for module in model.modules():
        if type(module).__name__ in blocks:
            fully_shard(module)
    fully_shard(model)
    return model


def main() -> None:
    args = parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    output_dir = Path(args.output_dir)
    model = sharded_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    checkpoint = output_dir / "checkpoint"
    start = 0
    if args.resume:
        state = {"model": get_model_state_dict(model), "optimizer": get_optimizer_state_dict(model, optimizer)}
        dcp.load(state, checkpoint_id=str(checkpoint))
        set_model_state_dict(model, state["model"])
        set_optimizer_state_dict(model, optimizer, state["optimizer"])
        start = json.loads((checkpoint / "step.json").read_text())["step"]
    data = torch.randint(0, VOCAB, (args.steps, GLOBAL_BATCH, BLOCK), generator=torch.Generator().manual_seed(1))
    rows = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    for step in range(start, args.steps):
        batch = data[step, rows]
        model(input_ids=batch, labels=batch).loss.backward()  # gradients averaged over the processes
        optimizer.step()
        optimizer.zero_grad()
        if args.save_at is not None and step + 1 == args.save_at:
            state = {"model": get_model_state_dict(model), "optimizer": get_optimizer_state_dict(model, optimizer)}
            dcp.save(state, checkpoint_id=str(checkpoint))
            if rank == 0:
                (checkpoint / "step.json").write_text(json.dumps({"step": step + 1}))
            dist.barrier()
            dist.destroy_process_group()
            return

    # the scripts' check before every save, on sharded weights: each process checks its own shard
    check_finite_weights(Accelerator(cpu=True), [model], args.steps)
    held = sum(p.to_local().numel() for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"rank{rank}.json").write_text(json.dumps({"held": held, "total": total, "world": world}))
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:  # the gathered weights as an ordinary model folder, saved as the scripts save (the sharded model)
        save_pretrained_atomically(output_dir / "model", model, state_dict=full)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
