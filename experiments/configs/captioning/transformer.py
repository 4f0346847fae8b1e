"""CNN feature map + transformer decoder captioner (the course's CaptioningTransformer) on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4.
Command: cs231n-jax train --config experiments/configs/captioning/transformer.py --workdir workdirs/captioning_transformer
Expected: greedy exact match / BLEU-4: val 0.994 / 0.998, test (unseen pairs) 0.962 / 0.989; beam 3 val 0.998 / 0.999, test 0.992 / 0.998;
  CPU-2, engine, 28 min 49 s under load; docs/results.md, "Captioning the synthetic scenes".
"""

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = base_config("transformer")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  return c
