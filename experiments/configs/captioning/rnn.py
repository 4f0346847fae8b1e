"""CNN features + vanilla RNN captioner (the course's CaptioningRNN, cell_type='rnn') on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/rnn.py --workdir workdirs/captioning_rnn
Expected: greedy exact match / BLEU-4: val 0.756 / 0.875, test (unseen pairs) 0.158 / 0.707; beam 3 val 0.752 / 0.878, test 0.138 / 0.696;
  CPU-2, 6 min; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("rnn")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
