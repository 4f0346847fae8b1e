"""Sequence reversal at lengths 5, 10, 20, 30 and 40 by the LSTM encoder-decoder with the fixed context vector and
with additive attention (lecture 10's motivation for attention: the whole source squeezed through one vector), the
same small model and the same budget at every length and for both decoders, each run through the engine (the
seq2seq task). Variants: ``seq2seq_lengths.py:bidirectional`` (the default; Bahdanau et al.'s encoder, a forward
and a backward LSTM, annotations [→h_j, ←h_j], fixed context [→h_T, ←h_1]) and ``seq2seq_lengths.py:unidirectional``
(one forward LSTM, fixed context h_T).

bidirectional -- both decoders read a bidirectional encoder; hidden 64 per direction, 800 steps of 64.

Command: cs231n-jax train --config experiments/configs/lectures/seq2seq_lengths.py:bidirectional --workdir workdirs/seq2seq_lengths_bi

Expected: measured on CPU-2 under load (797 s for the 10 runs), seed 0, hidden 64 per direction, 800 steps of 64,
greedy test token accuracy fixed / attention: length 5 1.000 / 1.000, 10 0.918 / 1.000, 20 0.504 / 1.000,
30 0.282 / 0.993, 40 0.227 / 0.999 (sequence accuracy: fixed 0.684 at 10, 0.012 at 20, 0.000 from 30; attention
0.957 at 30, 0.982 at 40): attention >= 95 % at every length. Figure: seq2seq_lengths.png.

unidirectional -- both decoders read one forward LSTM (the previous protocol); hidden 64, 800 steps of 64.

Command: cs231n-jax train --config experiments/configs/lectures/seq2seq_lengths.py:unidirectional --workdir workdirs/seq2seq_lengths_uni

Expected: measured on CPU-2 under load (1,323 s for the 10 runs), seed 0, hidden 64, 800 steps of 64, greedy test
token accuracy fixed / attention: length 5 0.999 / 1.000, 10 0.910 / 1.000, 20 0.376 / 0.974, 30 0.221 / 0.921,
40 0.169 / 0.927 (sequence accuracy: fixed 0.000 from length 20; attention 0.820 at 40): attention misses 95 % from
length 30. Figure: seq2seq_lengths.png.
"""

from cs231n_jax.tasks.seq2seq import base_config

RUNNER = "cs231n_jax.studies.lecture_systems:run_seq2seq_lengths"
VARIANTS = ("bidirectional", "unidirectional")


def get_config(variant="bidirectional"):
  c = base_config()
  c.runner = RUNNER
  c.study = {"lengths": (5, 10, 20, 30, 40)}
  c.task.kind = "reverse"
  c.task.eval_examples = 512
  c.model.hidden_size = 64
  c.model.embed_dim = 16
  c.model.attention_dim = 32
  c.model.bidirectional = variant == "bidirectional"
  c.train.num_steps = 800
  c.train.eval_every = 400
  c.train.checkpoint_every = 800
  return c
