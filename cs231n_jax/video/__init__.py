"""Video models (2016 lecture 14, notes chapter 12): spatio-temporal convolution, fusion patterns, C3D,
two-stream, I3D, recurrent and transformer video models.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.video import c3d, fusion, i3d, recurrent, transformer, two_stream  # noqa: F401  (register the models)
