"""Newton's method and L-BFGS vs gradient descent and Adam, full-batch softmax regression on digits.

Strongly convex (L2 strength reg on every parameter), float64. Iterations and wall time to get
within `tolerance` of the optimum (the loss Newton converges to); L-BFGS on minibatches for contrast.
Command: cs231n-jax train --config experiments/configs/techniques/second_order.py --workdir workdirs/second_order
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): iterations to within 1e-4 of the
  optimum: Newton 4, L-BFGS 13, gradient descent (lr 10) 86, Adam (lr 0.1) 88; mini-batch L-BFGS ends
  at 0.366 vs the optimum 0.350.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.second_order:run_second_order"
  c.seed = 0
  c.reg = 1e-3
  c.tolerance = 1e-4
  c.newton_iterations = 20
  c.first_order_iterations = 500
  c.minibatch_size = 64
  c.gd_lrs = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
  c.adam_lrs = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
  return c
