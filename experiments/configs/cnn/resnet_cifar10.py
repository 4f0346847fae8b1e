"""CIFAR-10 ResNet-20 and ResNet-56 exactly as He et al. 2016 (section 4.2): the paper's recipe, for a GPU / TPU.

Variants: ``resnet_cifar10.py:20`` and ``resnet_cifar10.py:56`` (the default is 20).
- model: 3 stages of n basic blocks (n = 3 for ResNet-20, 9 for ResNet-56; 16/32/64 filters), option A
  (zero-padding) shortcuts;
- data: per-pixel mean subtracted; 4 pixels padded on each side and a random 32x32 crop, random
  horizontal flip; a 45k / 5k train / validation split (the paper's);
- SGD with momentum 0.9, weight decay 1e-4 (PyTorch / Caffe semantics: gradient + 1e-4 w, i.e.
  the L2 penalty 5e-5 * sum w^2, on every parameter), batch 128, learning rate 0.1 divided by 10
  at 32k and 48k iterations, 64k iterations in all.

The lecture's recipe slide says "Weight decay of 1e-5"; the paper uses 1e-4.
Get the data first: cs231n-jax data fetch cifar10 --dir data/cifar10

Command: cs231n-jax train --config experiments/configs/cnn/resnet_cifar10.py:20 --workdir workdirs/resnet20_cifar10
  --config.data.dir=data/cifar10
Expected: 8.75% test error (He et al. 2016, Table 6); not run here (needs the CIFAR-10 download
  and an accelerator: 64k steps of batch 128).

Command: cs231n-jax train --config experiments/configs/cnn/resnet_cifar10.py:56 --workdir workdirs/resnet56_cifar10
  --config.data.dir=data/cifar10
Expected: 6.97% test error (He et al. 2016, Table 6); not run here (needs the CIFAR-10 download
  and an accelerator: 64k steps of batch 128).
"""

from cs231n_jax.tasks.classification import base_config

VARIANTS = ("20", "56")  # the depth
ITERATIONS = 64_000
LR_DROPS = (32_000, 48_000)


def get_config(depth="20"):
  c = base_config()
  c.data.name = "cifar10"
  c.data.dir = "data/cifar10"
  c.data.num_validation = 5000
  c.data.augment = "crop(padding=4) | flip"
  c.model.name = f"resnet{depth}"
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.l2 = 5e-5
  c.optimizer.penalize = "all"
  c.optimizer.schedule.name = "piecewise"
  c.optimizer.schedule.boundaries = LR_DROPS
  c.optimizer.schedule.decay_rate = 0.1
  c.train.batch_size = 128
  c.train.num_steps = ITERATIONS
  c.train.eval_every = 1000
  c.train.step = "sharded"
  return c
