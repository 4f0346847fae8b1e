"""The notes' decoder variants (ch. 10) on sequence reversal (length 10, fixed context vector), each run through the
engine (the seq2seq task): the recurrence (``hidden``: the state recurs and the previous symbol is an input, the
notes' "output forwarding"; ``output``: the step reads only the previous symbol, the output-to-hidden recurrence)
against what training feeds back (``target``: teacher forcing, y^{t-1}; ``output``: the notes' "teacher forcing"
equation as written, the model's own softmax o^{t-1}). Test decoding is greedy for all four.

Command: cs231n-jax train --config experiments/configs/lectures/seq2seq_feeds.py --workdir workdirs/seq2seq_feeds

Expected: measured on CPU-2 under load (265 s for the 4 runs), seed 0, hidden 64, 1,000 steps of 64, greedy test
token / sequence accuracy: hidden recurrence + teacher forcing 0.903 / 0.615, hidden recurrence + free-running
0.918 / 0.578, output recurrence + teacher forcing 0.343 / 0.000, output recurrence + free-running 0.352 / 0.000.
"""

from cs231n_jax.tasks.seq2seq import base_config

RUNNER = "cs231n_jax.studies.lecture_systems:run_seq2seq_feeds"


def get_config():
  c = base_config()
  c.runner = RUNNER
  c.study = {}
  c.task.kind = "reverse"
  c.task.length = 10
  c.task.eval_examples = 512
  c.model.attention = False
  c.model.hidden_size = 64
  c.model.embed_dim = 16
  c.model.attention_dim = 32
  c.train.num_steps = 1000
  c.train.eval_every = 500
  c.train.checkpoint_every = 1000
  return c
