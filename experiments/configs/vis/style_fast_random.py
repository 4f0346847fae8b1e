"""Fast style transfer on the random-weight substitute features (a labelled substitute for an ImageNet
network: a 3-stage conv net with He-normal random filters, conv1-conv3): style_fast.py's comparison at
a size the shared 2-core machine can afford — 32x32 crops, the network 8 features wide with 2 residual
blocks and the residual output (input + the last conv, clipped: it starts as the identity), 1200 steps
of 4 crops, instance norm; content conv2, style Grams at conv1-3 of immunohistochemistry (content weight
1, style weight 1e3). After training, on held-out chelsea crops in the same run: the network's loss
against per-image optimisation's (200 Adam steps; goal <= 2x) and the time per image (goal >= 100x faster).
Command: cs231n-jax train --config experiments/configs/vis/style_fast_random.py --workdir workdirs/vis_style_fast_random_residual1200
Expected: held-out test loss 355 (val 382 at step 1200); the network's loss 346 vs the optimisation's 238 on 4
  crops, 1.45x (goal <= 2x reached); 2.8 ms vs 0.86 s per image, 310x faster; CPU-2 (shared, load ~24), 261 s
  wall. Johnson's sigmoid output at 300 steps (--config.model.output=sigmoid --config.train.num_steps=300
  --config.train.eval_every=100 --config.train.checkpoint_every=300) gave 5.32x; the residual output at 300
  steps 2.79x; docs/results.md.
"""

from cs231n_jax.tasks import style_transfer


def get_config():
  c = style_transfer.base_config()
  c.features.update({"name": "random_conv", "channels": (16, 32, 64), "seed": 0})
  c.task.update({"image_size": 32, "styles": ("photo:immunohistochemistry",), "style_size": 64, "photo_scale": 0.25,
                 "content_weight": 1.0, "style_weight": 1e3, "crops_per_photo": 64, "heldout_crops": 8})
  c.model.update({"features": 8, "num_residual": 2, "norm": "instance", "output": "residual"})
  c.optimizer.learning_rate = 2e-3
  c.train.update({"batch_size": 4, "num_steps": 1200, "eval_every": 300, "log_every": 25, "eval_batch_size": 8,
                  "checkpoint_every": 1200, "progress": False})
  c.baseline.update({"num_images": 4, "num_steps": 200, "learning_rate": 0.02})
  return c
