"""The notes' chapter 16 checks as a table of errors (exact geometry against closed forms; no training),
and the figures of the shape set and the RGB-D voxelization.

Command: cs231n-jax train --config experiments/configs/geometry/checks.py --workdir workdirs/geometry_checks
Expected: not yet measured
"""

from cs231n_jax.studies import geometry


def get_config():
  return geometry.base_config()
