"""min-char-rnn (the 112-line gist of lecture 10), ported from its equations, on pydoc_data.topics: one stream, H=100, T=25, Adagrad 0.1, clip 5.

240,000 iterations of 25 characters (6M characters, about 15 passes over the training text).
Command: cs231n-jax train --config experiments/configs/rnn/min_char_rnn.py --workdir workdirs/min_char_rnn
Expected: test 2.391 bits/char (val 2.529 at iteration 240k) vs the 2-gram's 3.344 and the curriculum's target < 3.0; CPU-2, 2 min 43 s; docs/results.md.
"""

from cs231n_jax.text.min_char_rnn import default_config


def get_config():
  return default_config()
