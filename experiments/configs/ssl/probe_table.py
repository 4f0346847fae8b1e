"""The probe table on digits: SimCLR, MoCo v2, BYOL, rotation, jigsaw, MAE (on the ViT) and context-encoder inpainting
pre-training against raw pixels, a random-init encoder and the fully supervised encoder (linear probe and k-NN,
1 / 5 / 10 / all labels per class, 3 seeds).

The notes give no temperature, batch size, head, momentum or queue: the papers' values are the task's defaults
(cs231n_jax.tasks.contrastive.base_config); this config shrinks what 1,257 8x8 digits need and says so below.

Variants: ``probe_table.py:all`` (the default), ``probe_table.py:pixels`` and ``probe_table.py:cost``.

all -- every method and baseline, seeds 0, 1, 2.

Command: cs231n-jax train --config experiments/configs/ssl/probe_table.py:all --workdir workdirs/ssl_probe_table

Expected: linear probe at 5 labels per class, mean ± sd over 3 seeds: SimCLR 0.929 ± 0.010, MoCo v2 0.902 ± 0.006,
  BYOL 0.827 ± 0.025, rotation 0.790 ± 0.009, jigsaw 0.778 ± 0.010, MAE 0.630 ± 0.020, context encoder 0.821 ± 0.015
  vs raw pixels 0.829 ± 0.007, random-init encoder 0.825 ± 0.016, supervised 0.953 ± 0.005 (full table in
  docs/results.md); about 90 minutes on CPU-2 shared with other jobs for the rows before MAE / inpainting.

pixels -- only the MAE and context-encoder rows (same seeds, split, steps, batch and optimizer), the other rows
merged from the earlier run's probe_table.json.

Command: cs231n-jax train --config experiments/configs/ssl/probe_table.py:pixels --workdir workdirs/ssl_probe_table_pixels

Expected: linear@5 MAE 0.630 ± 0.020, context encoder 0.821 ± 0.015; held-out masked-patch MSE 0.0697 ± 0.0019
  (mean pixel 0.1412), hole MSE 0.0431 ± 0.0006 (mean fill 0.1925); 32 minutes on CPU-2 shared (load ~22).

cost -- every method's train-step compile time and examples/s in ONE process, no training.

Command: cs231n-jax train --config experiments/configs/ssl/probe_table.py:cost --workdir workdirs/ssl_cost

Expected: CPU-2 shared (load ~22), batch 128, one process: compile s / examples/s -- SimCLR 53.0 / 972, MoCo v2
  41.1 / 1,038, BYOL 44.7 / 1,522, rotation 27.7 / 2,426, jigsaw 24.6 / 2,904, MAE 26.7 / 731, context encoder
  14.9 / 648 (under load: indicative only).
"""

from cs231n_jax.studies.ssl_probe import base_config

VARIANTS = ("all", "pixels", "cost")


def get_config(variant="all"):
  c = base_config()
  c.train.update({"batch_size": 128, "num_steps": 600, "log_every": 100})  # SimCLR: 256-4096
  c.model.update({"projection_hidden": 256, "projection_dim": 64, "predictor_hidden": 256})  # SimCLR 2048/128; BYOL 4096
  c.optimizer.learning_rate = 1e-3  # Adam (SimCLR: LARS)
  c.moco.update({"queue_size": 1024, "momentum": 0.99})  # MoCo: 65536, 0.999 (a queue of 1,024 of 1,257 images)
  c.jigsaw.num_permutations = 30  # Noroozi and Favaro: 1000 (9 tiles of 3x3 pixels here)
  c.views.view1 = "resized_crop(scale=(0.6, 1.0)) | rotate(degrees=15) | shift(pixels=1) | noise(std=0.05)"
  c.supervised.update({"num_steps": 600, "batch_size": 128, "learning_rate": 1e-3})
  if variant == "pixels":  # only the MAE and inpainting rows; the others merged from the earlier run's table
    c.methods, c.baselines = ("mae", "inpainting"), ()
    c.previous = "workdirs/ssl_probe_table/probe_table.json"
  elif variant == "cost":  # every method's step cost in one process, no training
    c.runner = "cs231n_jax.studies.ssl_probe:run_cost"
  return c
