"""LAPGAN (Denton et al. 2015; the 2016 unsupervised lecture) as a two-level Laplacian pyramid 4x4 -> 8x8 on the
digits: a GAN of the 4x4 coarse images and a conditional GAN of the 8x8 residual given the upsampled coarse image,
trained independently level by level (one update of each of the four MLP networks per step), by the engine
(tasks/lapgan.py). Afterwards 1,000 chained samples are judged by a logistic-regression classifier of the real
digits: mean top probability and entropy of the assigned classes; lapgan_samples.png in the workdir.

Command: cs231n-jax train --config experiments/configs/lectures/lapgan.py --workdir workdirs/lapgan

Expected: measured on CPU-2 under load (52 s), seed 0, 3,000 steps: the judge's mean top probability on 1,000 samples
0.770 (real test digits 0.944), entropy of the classes it assigns 2.246 (real 2.301, uniform 2.303).
"""

from cs231n_jax.tasks.lapgan import base_config


def get_config():
  c = base_config()
  c.train.num_steps = 3000
  c.train.checkpoint_every = 3000
  return c
