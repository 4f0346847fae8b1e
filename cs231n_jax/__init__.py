"""cs231n_jax: the Stanford CS231n lectures as a JAX/Flax functional library.

Rooms (see ../DESIGN): ``data`` (sources and the global-batch pipeline), ``models`` (Flax Linen
families and a registry), ``train`` (TrainState, step builders, the fit loop, checkpoints,
multi-host), ``cli`` (the ``cs231n-jax`` command).
"""

__version__ = "0.1.0"

# Before anything starts a JAX backend: the XLA:CPU flag that makes convnet training 1.3-1.7x
# faster on CPU (cs231n_jax/cpu/xla_flags.py says which and why). Standard library only, so that
# the package imports before its dependencies are installed (the Colab cell, cs231n_jax/colab.py).
from cs231n_jax.cpu import xla_flags as _xla_flags  # noqa: E402

_xla_flags.apply()
