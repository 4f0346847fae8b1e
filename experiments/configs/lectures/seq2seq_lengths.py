"""Sequence reversal at lengths 5, 10, 20, 30 and 40 by the LSTM encoder-decoder with the fixed context vector and
with additive attention (lecture 10's motivation for attention: the whole source squeezed through one vector), the
same small model and the same budget at every length, each run through the engine (the seq2seq task).

Command: cs231n-jax train --config experiments/configs/lectures/seq2seq_lengths.py --workdir workdirs/seq2seq_lengths

Expected: measured on CPU-2 under load (1,323 s for the 10 runs), seed 0, hidden 64, 800 steps of 64, greedy test
token accuracy fixed / attention: length 5 0.999 / 1.000, 10 0.910 / 1.000, 20 0.376 / 0.974, 30 0.221 / 0.921,
40 0.169 / 0.927 (sequence accuracy: fixed 0.000 from length 20; attention 0.820 at 40). Figure: seq2seq_lengths.png.
"""

from cs231n_jax.tasks.seq2seq import base_config

RUNNER = "cs231n_jax.studies.lecture_systems:run_seq2seq_lengths"


def get_config():
  c = base_config()
  c.runner = RUNNER
  c.study = {"lengths": (5, 10, 20, 30, 40)}
  c.task.kind = "reverse"
  c.task.eval_examples = 512
  c.model.hidden_size = 64
  c.model.embed_dim = 16
  c.model.attention_dim = 32
  c.train.num_steps = 800
  c.train.eval_every = 400
  c.train.checkpoint_every = 800
  return c
