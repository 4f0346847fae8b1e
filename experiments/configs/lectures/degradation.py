"""Lecture 9's degradation experiment at digits scale: 20- and 56-layer plain nets against their residual twins
(the CIFAR ResNet-20/56 of He et al. 2016, section 4.2, with and without the option-A identity shortcuts; the same
parameters and initialisation), on the same budget, three seeds, each trained by the engine (classification runner).
The claim checked: the deeper plain net ends with a HIGHER training loss than the shallower one; the residual nets
do not. A figure of the training-loss curves: degradation.png in the workdir.

Command: cs231n-jax train --config experiments/configs/lectures/degradation.py --workdir workdirs/degradation

Expected: measured on CPU-2 under load (1,122 s for the 12 runs), 240 steps of batch 64, seeds 0/1/2, mean final
training loss (logged minibatch loss) / test error: plain-20 0.046 / 0.042, plain-56 2.084 / 0.864 (chance loss 2.30),
resnet-20 0.0004 / 0.025, resnet-56 0.227 / 0.103. The plain net degrades (the 56-layer one hardly trains); at this
budget the residual 56 trains far better than the plain 56 but still has a higher training loss than resnet-20
(the paper's "residual nets do not degrade" is after 64k steps; not reproduced at 240).

Command: cs231n-jax train --config experiments/configs/lectures/degradation.py --workdir workdirs/degradation_800
  --config.degradation.seeds='(0,)' --config.train.num_steps=800 --config.train.eval_every=200
  --config.train.checkpoint_every=800 --config.train.log_every=20

Expected: measured on CPU-2 under load (543 s), seed 0, 800 steps: final training loss / test error plain-20 0.0004 /
0.028, plain-56 1.190 / 0.667, resnet-20 0.0001 / 0.022, resnet-56 0.025 / 0.058 (resnet-56 still above resnet-20).
"""

from cs231n_jax.tasks.classification import base_config

RUNNER = "cs231n_jax.studies.lecture_systems:run_degradation"


def get_config():
  c = base_config()
  c.runner = RUNNER
  c.data.view = "8x8x1"
  c.model.name = "cifar_twin"
  c.model.depth = 20
  c.model.residual = True
  c.model.widths = (16, 32, 64)
  c.degradation = {"depths": (20, 56), "seeds": (0, 1, 2)}
  # The paper's optimiser (SGD + momentum 0.9, learning rate 0.1, weight decay 1e-4 in PyTorch's sense), a short budget.
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.l2 = 5e-5
  c.optimizer.penalize = "all"
  c.train.batch_size = 64
  c.train.num_steps = 240
  c.train.log_every = 10
  c.train.eval_every = 80
  c.train.checkpoint_every = 240
  c.train.keep_checkpoints = 1
  return c
