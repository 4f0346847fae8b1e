"""CNN features + vanilla RNN captioner (the course's CaptioningRNN, cell_type='rnn') on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/rnn.py --workdir workdirs/captioning_rnn
Expected: greedy exact match / BLEU-4: val 0.700 / 0.832, test (unseen pairs) 0.182 / 0.678; beam 3 val 0.726 / 0.843, test 0.126 / 0.636;
  train loss 1.34; re-measured on the engine, CPU-2 under load (~18), 8 min 9 s; docs/results.md (the removed loop:
  val 0.756, test 0.158).
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("rnn")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
