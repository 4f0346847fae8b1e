"""The course's three-layer convolutional network (assignment 2 ``cnn.py``), NCHW.

conv - relu - 2x2 max pool - affine - relu - affine - softmax. The convolution preserves the
spatial size (stride 1, zero padding (F - 1) / 2, lecture 5's rule for odd F); the pool halves it,
so H and W must be even. Built from the fast sandwich layers (im2col convolution) with their
hand-written backward passes; regularisation 0.5 * reg * Σ W² as in ``fc_net``.

Relation to the Flax model: ``cs231n_jax.models.convnet.ThreeLayerConvNet`` is the same network as
a Flax Linen module over NHWC images (``nn.Conv``, gradients from ``jax.grad``), for the engine's
``fit`` loop; this class is the course's contract, for the ``Solver`` and course notebooks.
"""

from __future__ import annotations

import numpy as np

from cs231n_jax.classifiers.course_model import CourseModel, l2_penalty
from cs231n_jax.layers.core import affine_backward, affine_forward
from cs231n_jax.layers.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n_jax.layers.losses import softmax_loss

POOL = 2


class ThreeLayerConvNet(CourseModel):
  """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

  Args (the course's): input_dim (C, H, W); num_filters and filter_size (odd) of the conv layer;
  hidden_dim of the hidden affine layer; num_classes; weight_scale (weights ~ N(0, weight_scale²),
  biases 0); reg; dtype. ``seed`` (an addition) makes the weight initialisation reproducible
  without touching numpy's global generator.
  """

  def __init__(self, input_dim=(3, 32, 32), num_filters: int = 32, filter_size: int = 7, hidden_dim: int = 100,
               num_classes: int = 10, weight_scale: float = 1e-3, reg: float = 0.0, dtype=np.float32,
               seed: int | None = None):
    super().__init__(reg, dtype, seed)
    c, h, w = input_dim
    if filter_size % 2 == 0:
      raise ValueError(f"filter_size: must be odd so that pad (F - 1) / 2 preserves the size, got {filter_size}")
    if h % POOL or w % POOL:
      raise ValueError(f"input_dim: H and W must be even for the 2x2 pool, got {tuple(input_dim)}")
    self.input_dim = tuple(input_dim)
    self.num_classes = num_classes
    self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
    self.pool_param = {"pool_height": POOL, "pool_width": POOL, "stride": POOL}
    pooled = num_filters * (h // POOL) * (w // POOL)
    self.params = {
        "W1": (weight_scale * self._randn(num_filters, c, filter_size, filter_size)).astype(self.dtype),
        "b1": np.zeros(num_filters, self.dtype),
        "W2": (weight_scale * self._randn(pooled, hidden_dim)).astype(self.dtype),
        "b2": np.zeros(hidden_dim, self.dtype),
        "W3": (weight_scale * self._randn(hidden_dim, num_classes)).astype(self.dtype),
        "b3": np.zeros(num_classes, self.dtype),
    }

  def check_input(self, X) -> None:
    shape = tuple(np.shape(X))
    if len(shape) != 4 or shape[1:] != self.input_dim:
      raise ValueError(f"ThreeLayerConvNet.loss: X must be (N, {', '.join(map(str, self.input_dim))}) (NCHW), got {shape}")

  def _forward(self, params, X):
    h1, cache1 = conv_relu_pool_forward(X, params["W1"], params["b1"], self.conv_param, self.pool_param)
    h2, cache2 = affine_relu_forward(h1, params["W2"], params["b2"])
    scores, cache3 = affine_forward(h2, params["W3"], params["b3"])
    return scores, (cache1, cache2, cache3)

  def pure_scores(self, params, state, X):
    return self._forward(params, X)[0]

  def pure_loss(self, params, state, X, y, reg, key):
    scores, (cache1, cache2, cache3) = self._forward(params, X)
    data_loss, dscores = softmax_loss(scores, y)
    reg_loss, reg_grads = l2_penalty(params, reg, ("W1", "W2", "W3"))
    grads = {}
    dh2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
    dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
    _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1)
    for name, g in reg_grads.items():
      grads[name] = grads[name] + g
    return data_loss + reg_loss, grads, state
