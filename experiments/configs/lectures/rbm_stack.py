"""The 2016 unsupervised lecture's RBM and greedy layer-wise pretraining: a Bernoulli RBM (64 -> 100) on the digits'
pixels in [0, 1] trained by CD-1, then a second RBM (100 -> 50) on the first one's hidden probabilities, each an
engine run (the CD-1 gradient into SGD with momentum 0.5, learning rate 0.3); afterwards linear probes (logistic
regression) on the pixels, on each layer's features and on untrained RBMs' features.

Command: cs231n-jax train --config experiments/configs/lectures/rbm_stack.py --workdir workdirs/rbm_stack

Expected: measured on CPU-2 under load (11 s per layer), seed 0: CD-1 minibatch reconstruction error (Σ over
pixels) 4.59 -> 1.82 over the 2,000 steps of RBM 1 (test, mean-field: 0.578), 4.28 -> 1.31 for RBM 2 (on RBM 1's 100
features); linear-probe test accuracy: pixels 0.972, RBM 1 features 0.978 (untrained RBM 0.961), the stack's
50 features 0.969 (untrained stack 0.958).
"""

from cs231n_jax.tasks.unsupervised import RBM_RUNNER, base_config


def get_config():
  c = base_config()
  c.runner = RBM_RUNNER
  c.data.subtract_mean = False
  c.rbm.hidden_sizes = (100, 50)
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.3
  c.optimizer.momentum = 0.5
  c.train.batch_size = 64
  c.train.num_steps = 2000
  c.train.log_every = 50
  c.train.eval_every = 500
  c.train.checkpoint_every = 2000
  return c
