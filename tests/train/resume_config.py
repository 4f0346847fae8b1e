"""A run long enough to be killed part-way: fc_net with batch norm and dropout on the 32x32x3 digits.

Used by test_resume_subprocess.py and test_multiprocess.py (not an experiment).
Command: cs231n-jax train --config tests/train/resume_config.py --workdir /tmp/resume
Expected: finishes in ~10 s on CPU-2; the tests compare parameters, not accuracy.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "fc_net"
  c.model.hidden_dims = (512, 512)
  c.model.normalization = "batch"
  c.model.dropout_keep_ratio = 0.8
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.02
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 128
  c.train.num_steps = 400
  c.train.eval_every = 50
  c.train.checkpoint_every = 20
  c.train.log_every = 10
  c.train.progress = False
  return c
