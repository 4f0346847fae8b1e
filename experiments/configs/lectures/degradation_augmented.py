"""Lecture 9's degradation experiment on a training set that is not interpolated: the same nets, optimiser and
seeds as ``degradation.py``, with the paper's augmentation scaled to 8x8 (He et al. 2016, section 4.2: 4-pixel
padding and a random 32x32 crop of 32x32 images, and horizontal flips; here a 1-pixel padding and a random 8x8
crop, and flips), and 800 steps. Without augmentation both residual nets reach a training loss of ~1e-4 on the
1,257 training digits, so the claim "the deeper residual net reaches a LOWER training loss" cannot show: both
interpolate. With a fresh random translation and flip of every image at every step, the logged training loss
(the minibatch loss on augmented images, what the paper's training-error curves show) cannot reach zero, and the
nets' capacity shows. A figure of the training-loss curves: degradation.png in the workdir.

Variants: ``degradation_augmented.py:standard`` (the default: He et al.'s initialisation, every batch-norm scale 1),
``degradation_augmented.py:zero_init`` (the same, with each residual block's last batch-norm scale started at 0) and
``degradation_augmented.py:zero_init_decay`` (zero_init with the paper's learning-rate drops, scaled to 800 steps) and
``degradation_augmented.py:zero_init_decay_long`` (zero_init_decay on twice the budget, the final state tested).

standard -- He et al.'s initialisation and optimiser, every batch-norm scale starting at 1.

Command: cs231n-jax train --config experiments/configs/lectures/degradation_augmented.py:standard --workdir workdirs/degradation_augmented

Expected: measured on CPU-2 under load (about 18 min per seed for the 4 runs), seeds 0/1/2, 800 steps: mean final
training loss (logged minibatch loss on augmented images) / test error: plain-20 0.197 / 0.103, plain-56 2.013 / 0.741,
resnet-20 0.069 / 0.073, resnet-56 0.283 / 0.139. Neither residual net interpolates now, the plain 56 still barely
leaves chance (2.30): the plain net degrades at every seed. The residual 56 is 7x lower than the plain 56 but still
above resnet-20 at every seed (0.291 / 0.310 / 0.246 against 0.093 / 0.059 / 0.055): the paper's "deeper residual nets
reach a lower training error" is NOT reproduced at 800 steps. Resnet-56 starts slowly (mean loss 2.14 at step 100
against 0.68) and gains fastest later (ratio to resnet-20 5.5x at step 400, 4.1x at 800).

zero_init -- the same budget, optimiser (no warm-up) and data; each residual block's last batch-norm scale starts at 0
(Goyal et al. 2017, section 5.1; torchvision's zero_init_residual), so every residual block is the identity at
initialisation and resnet-56 starts as the same function as resnet-20. The plain twins are trained exactly as in
``standard`` (the option has no residual branch to apply to there). Why: at initialisation resnet-56's gradient norm is
22 against resnet-20's 7.9 (logit std 2.3 against 1.2, 3 inits, a batch of 64 digits), and with learning rate 0.1 its
first 20 steps average a loss of 8.0; zero scales give 0.49 and 0.42. A linear warm-up (0.01 to 0.1 over 100 steps, or
0 to 0.1 over 200) only brought seed 0's resnet-56 to 0.184 / 0.191 at 800 steps; zero scales to 0.064.

Command: cs231n-jax train --config experiments/configs/lectures/degradation_augmented.py:zero_init
  --workdir workdirs/degradation_augmented_zero_init

Expected: measured on CPU-2 under load (1,185 s for the 12 runs), seeds 0/1/2, 800 steps: final training loss
(logged minibatch loss on augmented images), mean ± std over seeds / mean test error: plain-20 0.197 ± 0.039 / 0.103,
plain-56 2.013 ± 0.040 / 0.741 (the plain runs are those of the standard variant, bit for bit), resnet-20 0.070 ± 0.013
/ 0.055, resnet-56 0.072 ± 0.013 / 0.048 (seeds 0.064 / 0.091 / 0.062 against 0.072 / 0.085 / 0.053). The plain net
degrades and the residual net does not: resnet-56 no longer trails resnet-20 (0.283 against 0.069 in standard), the two
are level (curves overlap from step 20), but the paper's "deeper ends LOWER" is not reached at 800 steps.

zero_init_decay -- zero_init with He et al.'s learning-rate schedule scaled to the budget (divided by 10 at 32k and 48k
of 64k iterations; here at steps 400 and 600 of 800), for every net, plain and residual alike (the other variants
keep 0.1 throughout).

Command: cs231n-jax train --config experiments/configs/lectures/degradation_augmented.py:zero_init_decay
  --workdir workdirs/degradation_augmented_zero_init_decay

Expected: measured on CPU-2 under load (1,129 s for the 12 runs), seeds 0/1/2, 800 steps: final training loss, mean ±
std / mean test error: plain-20 0.174 ± 0.011 / 0.081, plain-56 2.182 ± 0.062 / 0.837, resnet-20 0.068 ± 0.009 / 0.036,
resnet-56 0.051 ± 0.005 / 0.044. Both halves of the training-error claim: the plain 56 degrades, and resnet-56 ends
BELOW resnet-20 at every seed (0.058 / 0.049 / 0.046 against 0.078 / 0.071 / 0.056; whole training split 0.036 against
0.041). Its test error is not lower (0.044 against 0.036; the paper's CIFAR-10 6.97% against 8.75%).

zero_init_decay_long -- zero_init_decay with two differences from the paper's protocol removed: twice the budget (1,600
steps, about 80 epochs; the paper's 64k iterations are 182), the rate drops at steps 800 and 1,200; and the state
tested is the final one, as in the paper (the other variants test the best of 4 validations on 180 digits).

Command: cs231n-jax train --config experiments/configs/lectures/degradation_augmented.py:zero_init_decay_long
  --workdir workdirs/degradation_augmented_zero_init_decay_long

Expected: measured on CPU-2 under load (1,218 s for the 12 runs), seeds 0/1/2, 1,600 steps: final training loss, mean ±
std / test error of the final state, mean ± std: plain-20 0.041 ± 0.005 / 0.046 ± 0.003, plain-56 1.942 ± 0.058 / 0.695 ±
0.011, resnet-20 0.0126 ± 0.0038 / 0.023 ± 0.005, resnet-56 0.0103 ± 0.0003 / 0.025 ± 0.008 (0.014 / 0.031 / 0.031
against 0.017 / 0.028 / 0.025: -1 / +1 / +2 of 360 test digits). The training-error claim holds on both halves (whole
training split 0.0043 against 0.0058, lower at every seed); the deeper residual net's test error is still not lower.
Seeds 3/4/5 (the same engine runs): 0.033 against 0.031; over 6 seeds 0.029 ± 0.009 against 0.027 ± 0.007, paired
difference +0.8 ± 1.6 test digits (standard error), McNemar 33 / 28 discordant digits, p = 0.61: no difference the
noise of 360 digits and the seeds can resolve (the paper's 20% fewer errors would be about 2 digits a run).
"""

from pathlib import Path

from cs231n_jax.config import load_config

VARIANTS = ("standard", "zero_init", "zero_init_decay", "zero_init_decay_long")


def get_config(variant="standard"):
  c = load_config(Path(__file__).with_name("degradation.py"))  # the same experiment, with augmentation
  c.data.augment = "crop(padding=1) | flip"
  c.train.num_steps = 800
  c.train.eval_every = 200
  c.train.checkpoint_every = 800
  c.train.log_every = 20
  if variant in ("zero_init", "zero_init_decay", "zero_init_decay_long"):
    c.model.zero_init_residual = True  # the residual nets only: the study trains the plain twins with it off
  if variant == "zero_init_decay_long":  # twice the budget, and the final state tested, as the paper
    c.train.num_steps = 1600
    c.train.eval_every = 1600  # validation only at the end: the state the engine keeps and tests is the final one
    c.train.checkpoint_every = 1600
  if variant in ("zero_init_decay", "zero_init_decay_long"):  # He et al.'s schedule (rate / 10 at 32k and 48k of 64k), scaled
    c.optimizer.schedule.name = "piecewise"
    c.optimizer.schedule.boundaries = (c.train.num_steps // 2, c.train.num_steps * 3 // 4)
    c.optimizer.schedule.decay_rate = 0.1
  return c
