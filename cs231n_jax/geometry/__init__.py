"""3-D vision (notes chapter 16, lecture 11): representations with exact geometry, point clouds,
voxels, implicit functions, PointNet, occupancy networks, NeRF.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.geometry import models  # noqa: F401  (registers the "3d" family)
