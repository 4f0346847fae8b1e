"""A NeRF (positional encoding with 6 frequencies, a 4-layer MLP of width 64, 32 stratified samples
per ray) fitted to 16 views (64x64) of the project's SDF scene rendered by its sphere tracer; PSNR over
the pixels of 4 held-out views, and the render time of one view.

Adam 2e-3 with a cosine schedule, 512 rays per step, 3,000 steps; hierarchical sampling is off here
(--config.render.fine_samples=32 turns it on, with a second network as in the paper).
Command: cs231n-jax train --config experiments/configs/geometry/nerf.py --workdir workdirs/nerf
Expected: not yet measured at 3,000 steps; with --config.train.num_steps=500 --config.train.eval_every=250
  --config.train.log_every=50: held-out PSNR 18.89 dB (goal 25 dB not reached), render 7.25 s per image; CPU-2 shared (load
  ~40), 720 s; docs/results.md
"""

from cs231n_jax.tasks import implicit


def get_config():
  return implicit.nerf_config()
