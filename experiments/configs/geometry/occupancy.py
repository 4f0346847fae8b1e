"""An occupancy network (PointNet encoder of 256 surface points -> a shape code; an MLP of (query
point, code) -> inside / outside) on the 12-class 3-D shape set; volume IoU against the exact shapes.

240 training shapes (20 per class) with 2,048 SDF samples each (half near the surface), 512 drawn
per shape per step; Adam 5e-4, batch 16 shapes; the IoU uses 8,192 uniform points per held-out
shape (24 val, 48 test) labelled by the exact SDF's sign.
Command: cs231n-jax train --config experiments/configs/geometry/occupancy.py --workdir workdirs/occupancy
Expected: not yet measured
"""

from cs231n_jax.tasks import implicit


def get_config():
  c = implicit.occupancy_config()
  c.train.update(num_steps=1000, eval_every=250)
  return c
