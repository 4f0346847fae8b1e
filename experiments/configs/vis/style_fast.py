"""Fast style transfer (lecture 13 V29-V31; Johnson et al. 2016): a feed-forward transform network
with instance norm, trained through the engine on 64x64 crops of astronaut / coffee / rocket /
hubble_deep_field with the perceptual loss of MobileNetV2's features (content block_6, style Grams at
block_1/3/6/10 of immunohistochemistry; content weight 1, style weight 1e6). After training, on
held-out chelsea crops and in the same run: the network's loss against per-image optimisation's
(200 Adam steps from the content image; goal <= 2x) and the time per image (goal >= 100x faster).
--config.model.norm=batch gives the batch-norm network to compare.
Command: cs231n-jax train --config experiments/configs/vis/style_fast.py --workdir workdirs/style_fast
Expected: not measured at the config's own 300 steps. With --config.train.num_steps=450 --config.train.eval_every=150
  --config.train.checkpoint_every=450 --config.baseline.num_images=2 --config.baseline.num_steps=100 (workdir
  workdirs/vis_style_fast_450): the network's loss 7,338 vs the optimisation's 2,577 on 2 held-out crops, 2.85x
  (goal <= 2x missed; val loss 11,456 / 8,710 / 7,062 at steps 150 / 300 / 450, still falling), 6.2 ms vs 1.28 s
  per image, 206x faster, test loss 6,768; continued to 1200 steps (--config.train.num_steps=1200 in a copy of that workdir,
  workdirs/vis_style_fast_long, resumed from step 450, constant learning rate): 3,680 vs 2,577, 1.43x (goal reached), 11.5 ms
  vs 3.28 s per image, 286x, test loss 3,680, 19.5 min wall for steps 450-1200 at load ~25; at 150 steps (same
  overrides) 4.86x; --config.model.output=residual at 150 steps 24.0x; CPU-2 (shared, load ~24), 501 s wall (450 steps);
  docs/results.md.
"""

from cs231n_jax.tasks import style_transfer


def get_config():
  c = style_transfer.base_config()
  c.features.name = "mobilenet_v2"
  c.features.content_layers = {"block_6": 1.0}
  c.features.style_layers = {"block_1": 1.0, "block_3": 1.0, "block_6": 1.0, "block_10": 1.0}
  c.task.update({"image_size": 64, "styles": ("photo:immunohistochemistry",), "style_size": 128,
                 "content_weight": 1.0, "style_weight": 1e6, "crops_per_photo": 64, "heldout_crops": 8})
  c.model.update({"features": 16, "num_residual": 3, "norm": "instance"})
  c.optimizer.learning_rate = 2e-3
  c.train.update({"batch_size": 4, "num_steps": 300, "eval_every": 100, "log_every": 25, "eval_batch_size": 8,
                  "checkpoint_every": 300})
  c.baseline.update({"num_images": 4, "num_steps": 200, "learning_rate": 0.02})
  return c
