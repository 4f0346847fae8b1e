"""CLIP on the synthetic captioned scenes (one or two coloured shapes, captions from the layout): image-text
retrieval recall@1 on 300 held-out scenes (a hit: the retrieved caption is the query's own caption text).

Text tower: word + position embeddings (word order matters: "a red circle above a blue square"), mean-pooled, MLP.
Temperature 0.07 (CLIP's initial value, fixed). Views: 1-pixel shifts and noise only (crops and flips change
the relations).
Command: cs231n-jax train --config experiments/configs/ssl/clip_scenes.py --workdir workdirs/ssl_clip_scenes
Expected: recall@1 image->text 0.383, text->image 0.450 on 300 held-out scenes (chance 0.012); seed 0, 300 steps,
  on CPU-2 shared with other jobs (docs/results.md).
"""

from cs231n_jax.tasks.contrastive import clip_scenes_config


def get_config():
  c = clip_scenes_config()
  c.train.update({"batch_size": 128, "num_steps": 300, "log_every": 50})
  c.optimizer.learning_rate = 1e-3
  return c
