"""The recurrent attention model (lecture 14; Mnih et al. 2014) on the 8x8 digits pasted at random
places on 32x32 canvases: 4 glimpses (8x8 patches at 3 scales: 8, 16 and 32 pixels), LSTM core of
128, Gaussian location policy (sigma 0.2) trained with REINFORCE (reward 1 for a correct answer,
learned baseline), the classifier by backprop; Adam 3e-3 with cosine decay, batch 128, 8000 steps.
Command: cs231n-jax train --config experiments/configs/rl/attention_digits.py --workdir workdirs/rl_attention_digits
Expected: test accuracy 89.7% (1,800 canvases; val 89.6%), against 71.2% for attention_digits_random.py;
  the learned model with its glimpses moved to random places 71.7%; CPU-2 (shared), 11 min 11 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.attention_config("policy")
  c.model.update(hidden=128, glimpse_hidden=128, num_glimpses=4, location_std=0.2)
  c.optimizer.update(learning_rate=3e-3, schedule="cosine")
  c.train.update(batch_size=128, num_steps=8000, eval_every=1000, log_every=100)
  return c
