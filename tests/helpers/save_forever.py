"""Save two different MLPs into one folder, alternately, until killed: for the kill -9 test of atomic saves."""

import sys

import torch

from hfnets import MnistMlpConfig, MnistMlpForImageClassification, MnistMlpImageProcessor
from hfnets.training.checkpointing import save_pretrained_atomically

output_dir = sys.argv[1]
models = []
for hidden in (32, 64):  # different shapes: a mix of the two would not even load
    torch.manual_seed(hidden)
    models.append(MnistMlpForImageClassification(MnistMlpConfig(hidden_sizes=[hidden])))
processor = MnistMlpImageProcessor()
print("ready", flush=True)
step = 0
while True:
    save_pretrained_atomically(output_dir, models[step % 2], processor)
    step += 1
    print(f"saved {step}", flush=True)
