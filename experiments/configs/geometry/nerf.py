"""A NeRF (positional encoding with 6 frequencies, a 4-layer MLP of width 64, 32 stratified samples
per ray) fitted to 16 views (64x64) of the project's SDF scene rendered by its sphere tracer; PSNR over
the pixels of 4 held-out views, and the render time of one view.

Adam 2e-3 with a cosine schedule, 512 rays per step, 3,000 steps; hierarchical sampling is off here
(--config.render.fine_samples=32 turns it on, with a second network as in the paper).
Command: cs231n-jax train --config experiments/configs/geometry/nerf.py --workdir workdirs/nerf
Expected: not yet measured at 3,000 steps; with --config.train.num_steps=2000 --config.train.eval_every=250
  --config.train.log_every=50: held-out PSNR 23.41 dB (views 24.59, 22.54, 22.99, 23.81; train PSNR 24.9; goal 25 dB
  not reached), curve 18.1 / 20.8 / 21.7 / 22.1 / 22.9 / 23.1 / 23.4 / 23.4 dB every 250 steps, render 2.7 s per image;
  CPU-2 shared (load ~25), 686 s; docs/sections/geometry.md
"""

from cs231n_jax.tasks import implicit


def get_config():
  return implicit.nerf_config()
