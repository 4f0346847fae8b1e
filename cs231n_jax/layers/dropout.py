"""Inverted dropout, with the course's convention: ``p`` is the probability of KEEPING a unit.

    ┌───────────────────────────────────────────────────────────────────────────────────────┐
    │ dropout_param['p'] = KEEP probability (the course's).  Flax's nn.Dropout(rate) takes  │
    │ the DROP probability: p = 0.8 here is rate = 0.2 there.  p = 1 keeps everything.      │
    └───────────────────────────────────────────────────────────────────────────────────────┘

"Inverted": at train time the kept units are divided by p, so that the expected train-time output
equals the test-time output, which is then just the identity (no rescaling at test time).

Randomness is explicit, as everywhere in JAX: ``dropout_param['key']`` (a PRNG key) or
``dropout_param['seed']`` (an int, the course's way of making masks reproducible for gradient
checks) picks the mask. Eager calls with neither draw a seed from numpy's global generator, as the
course's code does; inside ``jit`` that would freeze one mask into the compiled program, so there it
is an error.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.normalization import MODES
from cs231n_jax.layers.precision import follows_input_precision

# Upper bound for a seed drawn from numpy's global generator when no key or seed is given.
_MAX_SEED = 2**31 - 1


def key_from_numpy_global() -> jax.Array:
  """A PRNG key seeded from numpy's global generator, so that the course's ``np.random.seed(...)``
  at the top of a notebook makes JAX's randomness reproducible too."""
  return jax.random.key(np.random.randint(_MAX_SEED))


def dropout_key(dropout_param: dict, x) -> jax.Array:
  """The PRNG key for this call's mask (see the module docstring)."""
  if "key" in dropout_param and dropout_param["key"] is not None:
    return dropout_param["key"]
  if "seed" in dropout_param and dropout_param["seed"] is not None:
    return jax.random.key(dropout_param["seed"])
  if isinstance(x, jax.core.Tracer):
    raise ValueError("dropout_forward: under jit, pass dropout_param['key'] (a PRNG key) or dropout_param['seed']")
  return key_from_numpy_global()


@follows_input_precision
def dropout_forward(x, dropout_param: dict):
  """Inverted dropout. Returns (out, cache).

  Args:
    x: input of any shape.
    dropout_param: dict with 'p' (keep probability, 0 < p <= 1), 'mode' ('train' or 'test'), and
      optionally 'key' or 'seed'.
  """
  p = dropout_param.get("p")
  mode = dropout_param.get("mode")
  if mode not in MODES:
    raise ValueError(f"dropout_forward: dropout_param['mode'] must be 'train' or 'test', got {mode!r}")
  if p is None or not 0.0 < float(p) <= 1.0:
    raise ValueError(f"dropout_forward: dropout_param['p'] is the KEEP probability and must be in (0, 1], got {p!r}")
  if mode == "train":
    # Drawn in float32 whatever the data's precision, so that a key gives the same mask in float32
    # and in float64 (bernoulli's uniforms follow the dtype of p).
    keep = jax.random.bernoulli(dropout_key(dropout_param, x), jnp.float32(p), jnp.shape(x))
    mask = keep.astype(x.dtype) / p
    out = x * mask
  else:
    mask = None
    out = x
  return out, ({"p": p, "mode": mode}, mask)


@follows_input_precision
def dropout_backward(dout, cache):
  """dx = dout * mask in train mode (the mask already holds the 1/p scaling), dout in test mode."""
  param, mask = cache
  if param["mode"] == "train":
    return dout * mask
  return dout
