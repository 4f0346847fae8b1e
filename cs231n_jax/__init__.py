"""cs231n_jax: the Stanford CS231n lectures as a JAX/Flax functional library.

Rooms (see ../DESIGN): ``data`` (sources and the global-batch pipeline), ``models`` (Flax Linen
families and a registry), ``train`` (TrainState, step builders, the fit loop, checkpoints,
multi-host), ``cli`` (the ``cs231n-jax`` command).
"""

__version__ = "0.1.0"
