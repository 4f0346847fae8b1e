"""Sorting (length 10, 10 symbols) by an LSTM encoder-decoder with additive (MLP-score) attention,
teacher-forced training on fresh random sequences, greedy decoding on held-out ones, through the engine.

Command: cs231n-jax train --config experiments/configs/lectures/seq2seq_sort_attention.py --workdir workdirs/seq2seq_sort_attention

Expected: measured on CPU-2 under load (278 s), seed 0: test token accuracy 1.000, sequence accuracy 1.000
(greedy decoding, 1,024 held-out sequences).
"""

from cs231n_jax.tasks.seq2seq import base_config


def get_config():
  c = base_config()
  c.task.kind = "sort"
  c.task.length = 10
  c.model.attention = True
  c.train.num_steps = 2000
  return c
