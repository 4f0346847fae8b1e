"""CNN features + LSTM captioner (the course's CaptioningRNN, cell_type='lstm') on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/lstm.py --workdir workdirs/captioning_lstm
Expected: greedy exact match / BLEU-4: val 0.382 / 0.697, test (unseen pairs) 0.000 / 0.482; beam 3 val 0.412 / 0.714, test 0.000 / 0.480
  (train loss still falling: 2.16 vs the RNN's 1.31); CPU-2, 5 min 13 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("lstm")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
