"""An occupancy network (PointNet encoder of 256 surface points -> a shape code; an MLP of (query
point, code) -> inside / outside) on the 12-class 3-D shape set; volume IoU against the exact shapes.

A small run sized for a shared 2-core CPU: 120 training shapes (10 per class) with 2,048 SDF samples
each (half near the surface), 256 drawn per shape per step; Adam 1e-3, batch 8 shapes, 400 steps; the
IoU uses 8,192 uniform points per held-out shape (24 val, 48 test) labelled by the exact SDF's sign.
Command: cs231n-jax train --config experiments/configs/geometry/occupancy.py --workdir workdirs/occupancy
Expected: test volume IoU 0.444 (val 0.455) after 400 steps; CPU-2 shared (load ~40), 107 s; docs/results.md
"""

from cs231n_jax.tasks import implicit


def get_config():
  c = implicit.occupancy_config()
  c.data.update(train_per_class=10, queries_per_step=256)
  c.model.update(code_size=64, encoder_features=(32, 64, 128), decoder=(64, 64, 64))
  c.optimizer.learning_rate = 1e-3
  c.train.update(batch_size=8, num_steps=400, eval_every=200)
  return c
