"""CNN feature map + transformer decoder captioner (the course's CaptioningTransformer) on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/transformer.py --workdir workdirs/captioning_transformer
Expected: greedy exact match / BLEU-4: val 0.996 / 0.998, test (unseen pairs) 0.946 / 0.985; beam 3 val 0.996 / 0.998, test 0.952 / 0.987;
  CPU-2, 8 min 23 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("transformer")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
