"""CPC on digits read row by row: a GRU context over the codes of the rows above predicts the next two rows'
codes; InfoNCE against the other test digits' rows at the same step (chance 1/360 on the test split).

Command: cs231n-jax train --config experiments/configs/ssl/cpc_digits.py --workdir workdirs/ssl_cpc_digits
Expected: future-step accuracy 0.0329 on the test split vs chance 0.0028 (11.8x; goal >= 3x); the last context
  probed: linear 0.447 / 0.683 / 0.731 / 0.911 at 1 / 5 / 10 / all labels per class; seed 0, 257 s on CPU-2 shared
  with other jobs.
"""

from cs231n_jax.tasks.contrastive import cpc_base_config


def get_config():
  c = cpc_base_config()
  c.train.update({"batch_size": 128, "num_steps": 400, "log_every": 50})
  c.optimizer.learning_rate = 1e-3
  return c
