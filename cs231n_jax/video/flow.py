"""Optical flow for the two-stream network's temporal stream.

The lecture's temporal stream reads Brox & Malik's large-displacement optical flow (2011), which has
no offline implementation here. It is substituted by scikit-image's TV-L1 (``optical_flow_tvl1``,
Zach, Pock & Bischof 2007 / Wedel et al. 2009) or iterative Lucas-Kanade (``optical_flow_ilk``), or
by the clip generator's ground-truth displacement fields. The convention is scikit-image's: flow
``(dy, dx)`` at the pixels of frame ``t`` points to where that content is in frame ``t + 1``.
"""

from __future__ import annotations

import numpy as np

from cs231n_jax.errors import ConfigError

METHODS = ("tvl1", "ilk")


def estimate_flow(frames: np.ndarray, method: str = "tvl1") -> np.ndarray:
  """(T, H, W, 2) flow ``(dy, dx)`` between consecutive frames of a (T, H, W) grey clip; the last
  frame's is 0 (as the generator's ground truth)."""
  from skimage.registration import optical_flow_ilk, optical_flow_tvl1

  if frames.ndim != 3:
    raise ConfigError(f"frames: expected a (T, H, W) grey clip, got shape {frames.shape}")
  if method not in METHODS:
    raise ConfigError(f"data.flow: expected one of {METHODS} for an estimated flow, got {method!r}")
  fn = optical_flow_tvl1 if method == "tvl1" else optical_flow_ilk
  out = np.zeros((*frames.shape, 2), np.float32)
  for t in range(len(frames) - 1):
    # scikit-image registers the moving image onto the reference: reference(r, c) ~ moving(r + v)
    v = fn(frames[t].astype(np.float64), frames[t + 1].astype(np.float64))
    out[t] = np.moveaxis(v, 0, -1)
  return out


def endpoint_error(estimate: np.ndarray, truth: np.ndarray, where: np.ndarray | None = None) -> float:
  """Mean Euclidean distance between two flow fields (over ``where``, a boolean mask)."""
  err = np.sqrt(((estimate - truth) ** 2).sum(-1))
  return float(err[where].mean() if where is not None else err.mean())
