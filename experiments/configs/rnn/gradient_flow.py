"""Exploding / vanishing gradients: |dL/dh_t| against steps back for linear, tanh and LSTM recurrences (lecture 10).

Linear W = s Q (s = 0.9, 1.0, 1.1: the norm is exactly s^k), tanh RNNs with orthogonal Wh scaled by
1 and 3, and LSTMs with forget-gate bias 1 and 3, 100 steps, 64 units, averaged over 8 sequences.
Command: cs231n-jax train --config experiments/configs/rnn/gradient_flow.py --workdir workdirs/gradient_flow
Expected: ratios in docs/results.md ("Lectures 10-11"); the linear ones are s^99 (0.9^99 = 3.0e-5, 1.1^99 = 1.26e4) by construction.
"""

from cs231n_jax.text.gradient_flow import default_config


def get_config():
  return default_config()
