"""CNN feature map + LSTM with soft attention (Show, Attend and Tell) captioner on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/attention_lstm.py --workdir workdirs/captioning_attention_lstm
Expected: greedy exact match / BLEU-4: val 0.968 / 0.988, test (unseen pairs) 0.800 / 0.932; beam 3 val 0.974 / 0.990, test 0.784 / 0.925;
  attention peak on the named shape 0.47 (chance 0.078); CPU-2, 7 min 27 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("attention_lstm")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
