"""Training-script plumbing shared by scripts/train_*.py: flags, data, accelerator set-up, checkpoints."""
