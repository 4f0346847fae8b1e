"""Character LSTM language model (1 layer, 256 units, 64-d embedding) on pydoc_data.topics, truncated BPTT.

Trains 3000 steps of 32 streams x 64 characters (Adam 2e-3, cosine decay, clip by norm 5), keeps
the parameters best on val, and reports held-out test bits per character next to the unigram ...
5-gram baselines computed on the same split.
Command: cs231n-jax train --config experiments/configs/rnn/char_lstm.py --workdir workdirs/char_lstm
Expected: test 1.856 bits/char (val 1.948, best at step 3000) vs the best n-gram's 2.175 (4-gram); CPU-2, 7 min 40 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.text.train import default_config


def get_config():
  c = default_config()
  c.model.cell = "lstm"
  c.model.hidden_size = 256
  c.model.embed_dim = 64
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.seq_length = 64
  c.train.num_steps = 3000
  c.train.clip = "norm"
  c.train.clip_threshold = 5.0
  return c
