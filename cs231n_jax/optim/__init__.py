"""The lectures' optimizers as optax GradientTransformations, schedules, and the config factory.

- :mod:`cs231n_jax.optim.transforms`: SGD, momentum (both slide forms), Nesterov, AdaGrad, RMSProp,
  Adam (with and without bias correction), written as the slides write them.
- :mod:`cs231n_jax.optim.schedules`: step, exponential, 1/t, cosine, linear, piecewise, cosine
  restarts (SGDR), linear warm-up.
- :mod:`cs231n_jax.optim.penalties`: L2 / L1 / elastic-net penalties and decoupled weight decay.
- :mod:`cs231n_jax.optim.averaging`: Polyak averaging of the parameters.
- :mod:`cs231n_jax.optim.factory`: ``make_optimizer(config.optimizer, num_steps)``, the one
  function a training loop calls.
- :mod:`cs231n_jax.optim.solver_updates`: the course's numpy-style ``update(w, dw, config)`` rules for the
  Solver (written separately).
"""

from cs231n_jax.optim.averaging import averaged_params, polyak_average
from cs231n_jax.optim.factory import default_config, learning_rate_schedule, make_optimizer, make_rule
from cs231n_jax.optim.penalties import add_penalty_gradient, decoupled_weight_decay, penalty
from cs231n_jax.optim.schedules import make_schedule
from cs231n_jax.optim.transforms import RULES, adagrad, adam, nesterov, rmsprop, sgd, sgd_momentum

__all__ = [
    "RULES", "adagrad", "adam", "add_penalty_gradient", "averaged_params", "decoupled_weight_decay",
    "default_config", "learning_rate_schedule", "make_optimizer", "make_rule", "make_schedule",
    "nesterov", "penalty", "polyak_average", "rmsprop", "sgd", "sgd_momentum",
]
