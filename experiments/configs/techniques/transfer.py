"""Transfer learning in miniature: pretrain on digits 0-4, then learn 5-9 from k labels per class.

Pretrain technique_convnet on 0-4, then linear probe, fine-tune the top, fine-tune everything, or
train from scratch on 5-9 (3 seeds); every run is an engine run (fit) on a data.classes /
data.train_per_class subset.

Command: cs231n-jax train --config experiments/configs/techniques/transfer.py --workdir workdirs/transfer
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): test accuracy on 5-9 with 5 labels per
  class: linear probe 0.731, fine-tune top 0.780, fine-tune all 0.780, from scratch 0.863 (features
  learned on 0-4 did not beat learning from pixels on this data).
"""

import ml_collections

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.transfer:run_transfer"
  c.model = ml_collections.ConfigDict({"name": "technique_convnet", "features": (32, 64), "hidden_dim": 128})
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.transfer = ml_collections.ConfigDict({
      "source_classes": (0, 1, 2, 3, 4),
      "target_classes": (5, 6, 7, 8, 9),
      "shots": (1, 5, 20, 0),  # labelled examples per target class; 0 = every training example
      "methods": ("linear_probe", "finetune_top", "finetune_all", "scratch"),
      "new_layers": ("head",),  # freshly initialised in every fine-tuning run (new classes)
      "learning_rates": {"linear_probe": 0.05, "finetune_top": 0.05, "finetune_all": 0.02, "scratch": 0.05},
      "pretrain_steps": 600,
      "finetune_steps": 200,
      "num_seeds": 3,
  })
  return c
