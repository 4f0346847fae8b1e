"""The notes' chapter 16 checks as a table of errors (exact geometry against closed forms; no training),
and the figures of the shape set and the RGB-D voxelization.

Command: cs231n-jax train --config experiments/configs/geometry/checks.py --workdir workdirs/geometry_checks
Expected: every check within its goal — voxel volume error 0.00086, marching-cubes area error 0.00054, 0 sign
  mismatches, CSG volume errors 0.0021 / 0.0037 / 0.0067, polygon error slope -1.99, Bézier end points exact, 3-D
  box IoU within 0.00025 of Monte Carlo; CPU-2 (shared); docs/results.md
"""

from cs231n_jax.studies import geometry


def get_config():
  return geometry.base_config()
