"""Study 7 — the course's NumPy layers (naive loops, im2col) vs the project's compiled course layers,
for one ThreeLayerConvNet loss-and-gradient evaluation (the course's defaults: 32 filters of 7x7,
100 hidden units, 32x32x3 inputs).

The project's variant is ``cs231n_jax.classifiers.cnn.ThreeLayerConvNet.loss`` — the same
hand-written forward/backward passes, compiled as one XLA program. All variants compute the same
gradients (checked before timing).
"""

from __future__ import annotations

import numpy as np

from cs231n_jax.bench import numpy_course_layers as npl
from cs231n_jax.bench.harness import Record, measure_python

BATCH = 50  # the course's Solver batch size


def run(batch: int = BATCH, n_runs: int = 5, naive_runs: int = 1, peak: float | None = None) -> list[Record]:
  import jax

  from cs231n_jax.classifiers.cnn import ThreeLayerConvNet

  rng = np.random.default_rng(0)
  x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
  y = rng.integers(0, 10, batch)
  model = ThreeLayerConvNet(seed=0, weight_scale=1e-2)
  params = {k: np.asarray(v) for k, v in model.params.items()}
  loss_jit, grads_jit = model.loss(x, y)
  for fast in (True, False):
    small = slice(0, 4)
    l_np, g_np = npl.three_layer_convnet_loss(params, x[small], y[small], fast)
    l_j, g_j = model.loss(x[small], y[small])
    err = max(float(np.abs(g_np[k] - np.asarray(g_j[k])).max() / (np.abs(g_np[k]).max() + 1e-12)) for k in g_np)
    if err > 1e-3:
      raise AssertionError(f"course_layers: {'im2col' if fast else 'naive'} NumPy gradients differ from the compiled ones ({err:.2e})")
  params_info = {"batch": batch, "filters": 32, "filter_size": 7, "hidden": 100}
  records = [measure_python(lambda: jax.block_until_ready(model.loss(x, y)), study="course_layers",
                            variant="compiled course layers (cs231n_jax.layers, jit)", framework="jax",
                            n_runs=n_runs, peak_flops_per_s=peak, params=params_info)]
  records.append(measure_python(lambda: npl.three_layer_convnet_loss(params, x, y, True), study="course_layers",
                                variant="NumPy im2col (course fast layers)", framework="numpy", n_runs=n_runs,
                                peak_flops_per_s=peak, params=params_info))
  records.append(measure_python(lambda: npl.three_layer_convnet_loss(params, x, y, False), study="course_layers",
                                variant="NumPy naive loops (course layers.py)", framework="numpy",
                                n_runs=naive_runs, warmup=0, peak_flops_per_s=peak, params=params_info))
  return records
