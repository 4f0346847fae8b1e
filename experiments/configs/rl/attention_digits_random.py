"""The baseline for attention_digits.py: the same recurrent attention model with every one of its 4
glimpses at a uniformly random place (no location policy), its classifier trained by backprop the
same way.
Command: cs231n-jax train --config experiments/configs/rl/attention_digits_random.py --workdir workdirs/rl_attention_digits_random
Expected: test accuracy 71.2% (val 71.4%, best at step 7,000); CPU-2 (shared), 8 min 20 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.attention_config("random")
  c.model.update(hidden=128, glimpse_hidden=128, num_glimpses=4, location_std=0.2)
  c.optimizer.update(learning_rate=3e-3, schedule="cosine")
  c.train.update(batch_size=128, num_steps=8000, eval_every=1000, log_every=100)
  return c
