"""CLIP on (digit image, digit name) pairs: image and text towers, the symmetric contrastive loss; zero-shot
classification of the held-out test digits by the nearest caption embedding (no classifier trained).

Captions: six templates ("a {}", "the digit {}", "a handwritten {}", ...) over the ten digit names, one drawn
per example and step. Temperature 0.07 (CLIP's initial value, fixed here; the paper learns it).
Command: cs231n-jax train --config experiments/configs/ssl/clip_digits.py --workdir workdirs/ssl_clip_digits
Expected: zero-shot accuracy 0.922 on the 360 test digits (goal >= 0.80); linear probe on the image encoder's h
  0.850 / 0.956 / 0.947 / 0.972 at 1 / 5 / 10 / all labels per class; seed 0, 274 s on CPU-2 shared with other jobs
  (docs/results.md).
"""

from cs231n_jax.tasks.contrastive import clip_base_config


def get_config():
  c = clip_base_config()
  c.train.update({"batch_size": 128, "num_steps": 400, "log_every": 50})
  c.optimizer.learning_rate = 1e-3
  c.probe.labels_per_class = (1, 5, 10, 0)
  return c
