"""Exploding / vanishing gradients: |dL/dh_t| against steps back for linear, tanh and LSTM recurrences (lecture 10).

Linear W = s Q (s = 0.9, 1.0, 1.1: the norm is exactly s^k), tanh RNNs with orthogonal Wh scaled by
1 and 3, and LSTMs with forget-gate bias 1 and 3, 100 steps, 64 units, averaged over 8 sequences.
Command: cs231n-jax train --config experiments/configs/text/gradient_flow.py --workdir workdirs/gradient_flow
Expected: |dL/dh_1| / |dL/dh_100|: linear 2.95e-5, 1.00, 1.25e4 (= s^99 exactly); tanh 2.1e-20 (Wh=1), 9.0e9 (Wh=3); LSTM 2.7e-9 (forget
  bias 1), 0.19 (bias 3) (CPU-2, 22 s; docs/results.md "Lectures 10-11").
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.text.gradient_flow:run_gradient_flow"
  c.seed = 0
  c.hidden_size = 64
  c.length = 100
  c.linear_scales = (0.9, 1.0, 1.1)
  c.tanh_scales = (1.0, 3.0)
  c.lstm_forget_biases = (1.0, 3.0)
  c.num_sequences = 8  # norms are averaged (geometrically) over this many random sequences
  return c
