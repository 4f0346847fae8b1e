"""An occupancy network (PointNet encoder of 256 surface points -> a shape code; an MLP of (query
point, code) -> inside / outside) on the 12-class 3-D shape set; volume IoU against the exact shapes.

Sized for a shared 2-core CPU: 480 training shapes (40 per class) with 2,048 SDF samples each (half
near the surface), 256 drawn per shape per step; code 96, decoder 96-96-96; Adam 1e-3 with a cosine
schedule, batch 16 shapes, 1,500 steps; the IoU uses 8,192 uniform points per held-out shape (24 val,
48 test) labelled by the exact SDF's sign.
Command: cs231n-jax train --config experiments/configs/geometry/occupancy.py --workdir workdirs/occupancy
Expected: test volume IoU 0.633 (val 0.630; point accuracy 0.989), val IoU every 250 steps 0.489 / 0.562 / 0.607 /
  0.620 / 0.628 / 0.630; CPU-2 shared (load ~20), 8 min with the data (139 s of training); docs/results.md
"""

from cs231n_jax.tasks import implicit


def get_config():
  c = implicit.occupancy_config()
  c.data.update(train_per_class=40, queries_per_step=256)
  c.model.update(code_size=96, encoder_features=(32, 64, 128), decoder=(96, 96, 96))
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule.name = "cosine"
  c.train.update(batch_size=16, num_steps=1500, eval_every=250, log_every=50)
  return c
