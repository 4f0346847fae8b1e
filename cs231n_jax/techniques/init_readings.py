"""The course notes' 6-layer initialisation study (notes 7.3, L438-L482; inventory M6, 003:583),
under both readings of k.

The notes initialise ``W_i`` "uniformly in [-k_i, k_i]" (L448) and then quote k_i = 0.01, 0.05,
Xavier k_i = 1/√D_i (L454) and Kaiming "k_i = √(2D_i)" (L477). Two text errors, corrected here:

- 1/√D_i gives Var(W) = 1/D_i only when k is a *standard deviation*; as a uniform bound it gives
  Var = k²/3 = 1/(3D_i) (the uniform bound with variance 1/D is √(3/D)).
- Kaiming's √(2D_i) is a typo for √(2/D_i) (as a std; √(6/D_i) as a uniform bound).

So every setting runs under both readings: ``"gaussian"`` (W ~ N(0, k²), k a std) and ``"uniform"``
(W ~ U[-k, k], k a bound). The notes give no width; we take D = 4,096 at every layer and a batch
of N(0, 1) inputs, no biases, X_i = g(X_{i-1} W_i) for i = 1..6.

A whole-run program, not a training run: the six layers are one ``lax.scan`` whose weight
matrices are drawn inside the scan (one 4,096² matrix live at a time); all runs share those draws.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

READINGS = ("gaussian", "uniform")
ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}
DEPTH = 6
WIDTH = 4096
SATURATED = 0.95  # |X| above this counts as a saturated tanh unit

# The study's settings: (name, activation, k as a function of the fan-in D).
SETTINGS = {
    "tanh_k0.01": ("tanh", lambda D: 0.01),
    "tanh_k0.05": ("tanh", lambda D: 0.05),
    "tanh_xavier": ("tanh", lambda D: 1 / math.sqrt(D)),
    "relu_xavier": ("relu", lambda D: 1 / math.sqrt(D)),
    "relu_kaiming": ("relu", lambda D: math.sqrt(2 / D)),  # the notes' √(2D) corrected
}


def draw_weights(key, shape, k: float, reading: str):
  """W with scale k under ``reading``: N(0, k²) or U[-k, k]."""
  return scaled(jax.random.normal(key, shape), k, reading)


def scaled(z, k, reading: str):
  """Map standard normals z to k·z (the Gaussian reading) or to U[-k, k] through the normal CDF,
  k·(2Φ(z) − 1) (the uniform reading). Every setting of the study scales the *same* draws (common
  random numbers), so the settings differ only by their k, reading and activation."""
  if reading == "gaussian":
    return k * z
  if reading == "uniform":
    return k * (2 * jax.scipy.special.ndtr(z) - 1)
  raise ValueError(f"init_readings.reading: expected one of {READINGS}, got {reading!r}")


@functools.partial(jax.jit, static_argnames=("runs", "depth", "width", "batch"))
def _statistics(key, ks, runs: tuple[tuple[str, str], ...], depth: int, width: int, batch: int):
  """For each run (activation, reading) with scale ks[i]: per-layer std and saturated fraction."""
  x_key, w_key = jax.random.split(key)
  x0 = jax.random.normal(x_key, (batch, width))

  def layer(xs, layer_key):
    z = jax.random.normal(layer_key, (width, width))
    gauss, unif = z, 2 * jax.scipy.special.ndtr(z) - 1
    new = []
    for i, (activation, reading) in enumerate(runs):
      base = gauss if reading == "gaussian" else unif
      new.append(ACTIVATIONS[activation](xs[i] @ (ks[i] * base)))
    stats = jnp.stack([jnp.stack([jnp.std(x), jnp.mean(jnp.abs(x) > SATURATED)]) for x in new])
    return tuple(new), stats

  _, stats = jax.lax.scan(layer, tuple(x0 for _ in runs), jax.random.split(w_key, depth))
  return stats  # (depth, runs, 2)


def study(key, width: int = WIDTH, batch: int = 1000, depth: int = DEPTH, settings=None) -> dict[str, dict]:
  """Every setting under both readings: {"<setting>/<reading>": {"k", "std" (per layer),
  "ratio_6_to_1" (std X_depth / std X_1), "saturated_last" (fraction of |X_depth| > 0.95)}}.
  X_0 ~ N(0, 1) of shape (batch, width) is the same for every run, and so are the draws behind
  every layer's W."""
  if width <= 0 or batch <= 0 or depth < 2:
    raise ValueError(f"init_readings.study: need width > 0, batch > 0, depth >= 2; got {width}, {batch}, {depth}")
  names = []
  for name in settings or SETTINGS:
    if name not in SETTINGS:
      raise ValueError(f"init_readings.settings: unknown setting {name!r}; expected one of {tuple(SETTINGS)}")
    names += [(name, reading) for reading in READINGS]
  runs = tuple((SETTINGS[n][0], r) for n, r in names)
  ks = [SETTINGS[n][1](width) for n, _ in names]
  stats = np.asarray(_statistics(key, jnp.asarray(ks, jnp.float32), runs, depth, width, batch), np.float64)
  out = {}
  for i, (name, reading) in enumerate(names):
    stds = stats[:, i, 0]
    out[f"{name}/{reading}"] = {
        "k": ks[i], "std": stds.tolist(), "ratio_6_to_1": float(stds[-1] / stds[0]), "saturated_last": float(stats[-1, i, 1]),
    }
  return out


def linear_regime_ratio(k: float, width: int, reading: str, depth: int = DEPTH) -> float:
  """std(X_depth)/std(X_1) if every layer were linear: (√(D Var W))^(depth-1), Var W = k² or k²/3."""
  var = k**2 if reading == "gaussian" else k**2 / 3
  return float(math.sqrt(width * var) ** (depth - 1))
