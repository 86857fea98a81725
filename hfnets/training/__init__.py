"""Training-script plumbing shared by scripts/train_*.py, one module per job: flags (the shared flag groups),
accelerator (mixed precision, logging and seeds, unwrapping), data and text_data (datasets to tensors), augment,
output_dir (the folder and the tracker), optimization (optimizer, schedule, run length), checkpointing (resume and
atomic saves), sampling, results (evaluation and what a run reports) and run (a script as a command)."""
