"""Lecture 9's degradation experiment on a training set that is not interpolated: the same nets, optimiser and
seeds as ``degradation.py``, with the paper's augmentation scaled to 8x8 (He et al. 2016, section 4.2: 4-pixel
padding and a random 32x32 crop of 32x32 images, and horizontal flips; here a 1-pixel padding and a random 8x8
crop, and flips), and 800 steps. Without augmentation both residual nets reach a training loss of ~1e-4 on the
1,257 training digits, so the claim "the deeper residual net reaches a LOWER training loss" cannot show: both
interpolate. With a fresh random translation and flip of every image at every step, the logged training loss
(the minibatch loss on augmented images, what the paper's training-error curves show) cannot reach zero, and the
nets' capacity shows. A figure of the training-loss curves: degradation.png in the workdir.

Command: cs231n-jax train --config experiments/configs/lectures/degradation_augmented.py --workdir workdirs/degradation_augmented

Expected: measured on CPU-2 under load (about 18 min per seed for the 4 runs), seeds 0/1/2, 800 steps: mean final
training loss (logged minibatch loss on augmented images) / test error: plain-20 0.197 / 0.103, plain-56 2.013 / 0.741,
resnet-20 0.069 / 0.073, resnet-56 0.283 / 0.139. Neither residual net interpolates now, the plain 56 still barely
leaves chance (2.30): the plain net degrades at every seed. The residual 56 is 7x lower than the plain 56 but still
above resnet-20 at every seed (0.291 / 0.310 / 0.246 against 0.093 / 0.059 / 0.055): the paper's "deeper residual nets
reach a lower training error" is NOT reproduced at 800 steps. Resnet-56 starts slowly (mean loss 2.14 at step 100
against 0.68) and gains fastest later (ratio to resnet-20 5.5x at step 400, 4.1x at 800).
"""

from pathlib import Path

from cs231n_jax.config import load_config


def get_config():
  c = load_config(Path(__file__).with_name("degradation.py"))  # the same experiment, with augmentation
  c.data.augment = "crop(padding=1) | flip"
  c.train.num_steps = 800
  c.train.eval_every = 200
  c.train.checkpoint_every = 800
  c.train.log_every = 20
  return c
