"""CNN feature map + LSTM with soft attention (Show, Attend and Tell) captioner on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/attention_lstm.py --workdir workdirs/captioning_attention_lstm
Expected: exact match and BLEU-4 on val and test in docs/results.md ("Lectures 10-11"), measured on CPU-2 with this config.
"""

from cs231n_jax.captioning.train import default_config


def get_config():
  c = default_config("attention_lstm")
  return c
