"""The course layers: three-way gradient checks in float64, conv/pool against lax, batch norm and
dropout semantics, the lecture's conv shape and parameter-count examples, bad input."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax import layers as L
from cs231n_jax.classifiers.cnn import ThreeLayerConvNet
from cs231n_jax.gradcheck import KINK_THRESHOLD, SMOOTH_THRESHOLD, max_error, rel_error, three_way_errors
from cs231n_jax.layers import differentiable as D


def away_from_zero(a, gap=0.05):
  """Values pushed at least ``gap`` away from 0 (ReLU's kink), keeping their sign."""
  return np.where(a >= 0, a + gap, a - gap)


def distinct(shape, rng):
  """Values at least 0.01 apart, so no ±h perturbation can change which one is a window's max."""
  return rng.permutation(np.arange(np.prod(shape))).reshape(shape) * 0.01 - 1.0


@dataclasses.dataclass
class Case:
  name: str
  inputs: Callable[[np.random.Generator], tuple]
  forward: Callable  # (*inputs) -> (out, cache)
  backward: Callable  # (dout, cache) -> grads (tuple or array)
  threshold: float
  # Inputs whose true gradient is identically zero: a bias right before batch norm (the batch mean
  # subtracts it). Relative error is meaningless there (0 vs 1e-11 of rounding noise is "1e-3"),
  # so those are checked in absolute terms.
  zero_grad_inputs: tuple[int, ...] = ()


def bn_fwd(mode="train"):
  return lambda x, g, b: L.batchnorm_forward(x, g, b, {"mode": mode, "running_mean": np.full(x.shape[1], 0.3),
                                                        "running_var": np.full(x.shape[1], 2.0)})


CONV = {"stride": 2, "pad": 1}
POOL_TILE = {"pool_height": 2, "pool_width": 2, "stride": 2}
POOL_OVERLAP = {"pool_height": 3, "pool_width": 3, "stride": 1}

CASES = [
    Case("affine", lambda r: (r.standard_normal((4, 2, 3)), r.standard_normal((6, 5)), r.standard_normal(5)),
         L.affine_forward, L.affine_backward, SMOOTH_THRESHOLD),
    Case("relu", lambda r: (away_from_zero(r.standard_normal((5, 6))),), L.relu_forward, L.relu_backward, KINK_THRESHOLD),
    Case("leaky_relu", lambda r: (away_from_zero(r.standard_normal((5, 6))),), L.leaky_relu_forward, L.leaky_relu_backward, KINK_THRESHOLD),
    Case("sigmoid", lambda r: (3 * r.standard_normal((5, 6)),), L.sigmoid_forward, L.sigmoid_backward, SMOOTH_THRESHOLD),
    Case("tanh", lambda r: (r.standard_normal((5, 6)),), L.tanh_forward, L.tanh_backward, SMOOTH_THRESHOLD),
    Case("elu", lambda r: (away_from_zero(r.standard_normal((5, 6))),), L.elu_forward, L.elu_backward, SMOOTH_THRESHOLD),
    Case("maxout", lambda r: (r.standard_normal((4, 5)), r.standard_normal((3, 5, 6)), r.standard_normal((3, 6))),
         L.maxout_forward, L.maxout_backward, KINK_THRESHOLD),
    Case("batchnorm_train", lambda r: (4 * r.standard_normal((8, 5)) + 2, r.standard_normal(5), r.standard_normal(5)),
         bn_fwd("train"), L.batchnorm_backward, SMOOTH_THRESHOLD),
    Case("batchnorm_train_alt", lambda r: (4 * r.standard_normal((8, 5)) + 2, r.standard_normal(5), r.standard_normal(5)),
         bn_fwd("train"), L.batchnorm_backward_alt, SMOOTH_THRESHOLD),
    Case("batchnorm_test", lambda r: (r.standard_normal((8, 5)), r.standard_normal(5), r.standard_normal(5)),
         bn_fwd("test"), L.batchnorm_backward, SMOOTH_THRESHOLD),
    Case("layernorm", lambda r: (3 * r.standard_normal((4, 7)) - 1, r.standard_normal(7), r.standard_normal(7)),
         lambda x, g, b: L.layernorm_forward(x, g, b, {}), L.layernorm_backward, SMOOTH_THRESHOLD),
    Case("spatial_batchnorm", lambda r: (2 * r.standard_normal((2, 3, 4, 5)) + 1, r.standard_normal(3), r.standard_normal(3)),
         lambda x, g, b: L.spatial_batchnorm_forward(x, g, b, {"mode": "train"}), L.spatial_batchnorm_backward, SMOOTH_THRESHOLD),
    Case("spatial_groupnorm",
         lambda r: (2 * r.standard_normal((2, 6, 3, 4)) + 1, r.standard_normal((1, 6, 1, 1)), r.standard_normal((1, 6, 1, 1))),
         lambda x, g, b: L.spatial_groupnorm_forward(x, g, b, 2, {}), L.spatial_groupnorm_backward, SMOOTH_THRESHOLD),
    Case("dropout_train", lambda r: (r.standard_normal((6, 7)),),
         lambda x: L.dropout_forward(x, {"mode": "train", "p": 0.7, "seed": 123}), L.dropout_backward, SMOOTH_THRESHOLD),
    Case("conv_naive", lambda r: (r.standard_normal((2, 3, 5, 5)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)),
         lambda x, w, b: L.conv_forward_naive(x, w, b, CONV), L.conv_backward_naive, SMOOTH_THRESHOLD),
    Case("conv_fast", lambda r: (r.standard_normal((2, 3, 5, 5)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)),
         lambda x, w, b: L.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1}), L.conv_backward_fast, SMOOTH_THRESHOLD),
    Case("max_pool_naive", lambda r: (distinct((2, 2, 4, 4), r),),
         lambda x: L.max_pool_forward_naive(x, POOL_TILE), L.max_pool_backward_naive, KINK_THRESHOLD),
    Case("max_pool_fast_tiling", lambda r: (distinct((2, 2, 4, 4), r),),
         lambda x: L.max_pool_forward_fast(x, POOL_TILE), L.max_pool_backward_fast, KINK_THRESHOLD),
    Case("max_pool_fast_overlap", lambda r: (distinct((2, 2, 5, 5), r),),
         lambda x: L.max_pool_forward_fast(x, POOL_OVERLAP), L.max_pool_backward_fast, KINK_THRESHOLD),
    Case("affine_relu", lambda r: (r.standard_normal((4, 6)), r.standard_normal((6, 5)), r.standard_normal(5)),
         L.affine_relu_forward, L.affine_relu_backward, KINK_THRESHOLD),
    Case("affine_bn_relu",
         lambda r: (r.standard_normal((6, 4)), r.standard_normal((4, 5)), r.standard_normal(5), r.standard_normal(5), r.standard_normal(5)),
         lambda x, w, b, g, be: L.affine_bn_relu_forward(x, w, b, g, be, {"mode": "train"}), L.affine_bn_relu_backward, KINK_THRESHOLD,
         zero_grad_inputs=(2,)),
    Case("affine_ln_relu",
         lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 6)), r.standard_normal(6), r.standard_normal(6), r.standard_normal(6)),
         lambda x, w, b, g, be: L.affine_ln_relu_forward(x, w, b, g, be, {}), L.affine_ln_relu_backward, KINK_THRESHOLD),
    Case("conv_relu", lambda r: (r.standard_normal((2, 3, 4, 4)), r.standard_normal((3, 3, 3, 3)), r.standard_normal(3)),
         lambda x, w, b: L.conv_relu_forward(x, w, b, {"stride": 1, "pad": 1}), L.conv_relu_backward, KINK_THRESHOLD),
    Case("conv_relu_pool", lambda r: (r.standard_normal((2, 3, 4, 4)), r.standard_normal((3, 3, 3, 3)), r.standard_normal(3)),
         lambda x, w, b: L.conv_relu_pool_forward(x, w, b, {"stride": 1, "pad": 1}, POOL_TILE), L.conv_relu_pool_backward, KINK_THRESHOLD),
    Case("conv_bn_relu",
         lambda r: (r.standard_normal((2, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3), r.standard_normal(3),
                    r.standard_normal(3)),
         lambda x, w, b, g, be: L.conv_bn_relu_forward(x, w, b, g, be, {"stride": 1, "pad": 1}, {"mode": "train"}),
         L.conv_bn_relu_backward, KINK_THRESHOLD, zero_grad_inputs=(2,)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_three_way_gradient_check(case):
  rng = np.random.default_rng(231)
  inputs = case.inputs(rng)
  with jax.enable_x64(True):
    dout = rng.standard_normal(jax.eval_shape(lambda *a: case.forward(*a)[0], *inputs).shape)
    # Forward then hand-written backward, compiled as one program (eager dispatch would compile
    # every primitive separately, which is most of the time of a check this small).
    grads = jax.jit(lambda d, *a: case.backward(d, case.forward(*a)[1]))(dout, *inputs)
    grads = grads if isinstance(grads, tuple) else (grads,)
  assert all(np.asarray(g).dtype == np.float64 for g in grads)
  results = three_way_errors(lambda *a: case.forward(*a)[0], inputs, dout, grads)
  for k in case.zero_grad_inputs:
    assert np.abs(np.asarray(grads[k])).max() < 1e-12
    results[k] = {}
  assert max_error(results) < case.threshold, results


@pytest.mark.parametrize("name", ["softmax", "svm"])
def test_loss_layers_three_way(name):
  rng = np.random.default_rng(0)
  layer = L.softmax_loss if name == "softmax" else L.svm_loss
  x = rng.standard_normal((6, 5))
  y = rng.integers(0, 5, 6)
  with jax.enable_x64(True):
    _, dx = layer(x, y)
  results = three_way_errors(lambda s: layer(s, jnp.asarray(y))[0], (x,), 1.0, (dx,))
  assert max_error(results) < (SMOOTH_THRESHOLD if name == "softmax" else KINK_THRESHOLD), results


def test_svm_loss_layer_matches_per_example_definition():
  # Lecture 3's table: columns are the cat, car and frog images.
  scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
  loss, _ = L.svm_loss(scores, np.array([0, 1, 2]))
  assert loss == pytest.approx((2.9 + 0 + 12.9) / 3, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Convolution and pooling against lax.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride,pad,size", [(1, 1, 4), (2, 1, 5), (3, 1, 7)])
def test_conv_naive_and_fast_equal_lax(stride, pad, size):
  rng = np.random.default_rng(stride * 10 + pad)
  x, w, b = rng.standard_normal((2, 3, size, size)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
  param = {"stride": stride, "pad": pad}
  with jax.enable_x64(True):
    ref = jax.lax.conv_general_dilated(jnp.asarray(x), jnp.asarray(w), (stride, stride), [(pad, pad)] * 2,
                                       dimension_numbers=("NCHW", "OIHW", "NCHW")) + b[None, :, None, None]
    naive, cache_n = L.conv_forward_naive(x, w, b, param)
    fast, cache_f = L.conv_forward_fast(x, w, b, param)
    dout = rng.standard_normal(naive.shape)
    _, vjp = jax.vjp(lambda x, w: jax.lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad)] * 2,
                                                              dimension_numbers=("NCHW", "OIHW", "NCHW")), jnp.asarray(x), jnp.asarray(w))
    ref_dx, ref_dw = vjp(jnp.asarray(dout))
    for grads in (L.conv_backward_naive(dout, cache_n), L.conv_backward_fast(dout, cache_f)):
      assert rel_error(grads[0], ref_dx) < 1e-11
      assert rel_error(grads[1], ref_dw) < 1e-11
      assert rel_error(grads[2], dout.sum(axis=(0, 2, 3))) < 1e-12
  assert rel_error(naive, ref) < 1e-12
  assert rel_error(fast, ref) < 1e-12


@pytest.mark.parametrize("pool", [POOL_TILE, POOL_OVERLAP, {"pool_height": 3, "pool_width": 3, "stride": 2}])
def test_max_pool_naive_and_fast_equal_reduce_window(pool):
  rng = np.random.default_rng(1)
  x = rng.standard_normal((2, 2, 4, 4) if pool is POOL_TILE else (2, 2, 5, 5))
  ph, pw, s = pool["pool_height"], pool["pool_width"], pool["stride"]

  def ref(a):
    return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 1, ph, pw), (1, 1, s, s), "VALID")

  with jax.enable_x64(True):
    expected, vjp = jax.vjp(ref, jnp.asarray(x))
    naive, cn = L.max_pool_forward_naive(x, pool)
    fast, cf = L.max_pool_forward_fast(x, pool)
    dout = rng.standard_normal(naive.shape)
    (ref_dx,) = vjp(jnp.asarray(dout))
    assert rel_error(L.max_pool_backward_naive(dout, cn), ref_dx) < 1e-12
    assert rel_error(L.max_pool_backward_fast(dout, cf), ref_dx) < 1e-12
  assert rel_error(naive, expected) == 0.0
  assert rel_error(fast, expected) == 0.0


def test_max_pool_tie_rule_first_maximum_gets_the_gradient():
  x = np.zeros((1, 1, 2, 2))  # a single window of four equal values
  for fwd, bwd in ((L.max_pool_forward_naive, L.max_pool_backward_naive), (L.max_pool_forward_fast, L.max_pool_backward_fast)):
    _, cache = fwd(x, POOL_TILE)
    dx = np.asarray(bwd(np.ones((1, 1, 1, 1)), cache))
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_im2col_col2im_are_adjoint():
  rng = np.random.default_rng(3)
  x = rng.standard_normal((2, 3, 6, 5))
  with jax.enable_x64(True):
    cols = L.im2col(jnp.asarray(x), 3, 2, padding=1, stride=1)
    c = rng.standard_normal(cols.shape)
    lhs = float(jnp.sum(cols * c))
    rhs = float(jnp.sum(jnp.asarray(x) * L.col2im(jnp.asarray(c), x.shape, 3, 2, padding=1, stride=1)))
  assert cols.shape == (3 * 3 * 2, 2 * 6 * 6)
  assert lhs == pytest.approx(rhs, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Lecture 5's shapes and parameter counts.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size,f,s,p,expected", [
    (7, 3, 1, 0, 5), (7, 3, 2, 0, 3), (7, 3, 1, 1, 7),  # the 7x7 input, 3x3 filter examples
    (32, 5, 1, 2, 32), (32, 5, 1, 0, 28), (28, 5, 1, 0, 24),  # 32 -> 28 -> 24 "shrinks too fast"
    (32, 5, 3, 0, 10), (32, 5, 1, 1, 30), (7, 7, 1, 3, 7), (5, 5, 1, 2, 5),  # (F - 1)/2 padding keeps size
])
def test_conv_output_size_formula_and_real_shape(size, f, s, p, expected):
  assert L.conv_output_size(size, f, s, p) == expected
  out, _ = L.conv_forward_fast(np.zeros((1, 3, size, size), np.float32), np.zeros((2, 3, f, f), np.float32),
                               np.zeros(2, np.float32), {"stride": s, "pad": p})
  assert out.shape == (1, 2, expected, expected)


@pytest.mark.parametrize("size,f,s,p", [(7, 3, 3, 0), (32, 5, 2, 0), (32, 5, 2, 1), (32, 5, 2, 2), (32, 5, 3, 1), (32, 5, 3, 2)])
def test_conv_that_does_not_fit_is_rejected_with_the_arithmetic(size, f, s, p):
  with pytest.raises(ValueError, match="not an integer"):
    L.conv_output_size(size, f, s, p)
  for name, forward in (("conv_forward_naive", L.conv_forward_naive), ("conv_forward_im2col", L.conv_forward_fast)):
    # One line naming the call, both shapes and the arithmetic that does not come out whole.
    pattern = (rf"^{name}: x \(1, 3, {size}, {size}\) with w \(2, 3, {f}, {f}\): "
               rf"\(W - F \+ 2P\)/S \+ 1 = \({size} - {f} \+ 2\*{p}\)/{s}[^\n]*$")
    with pytest.raises(ValueError, match=pattern):
      forward(np.zeros((1, 3, size, size)), np.zeros((2, 3, f, f)), np.zeros(2), {"stride": s, "pad": p})


def test_lecture_parameter_counts():
  # "Input volume 32x32x3, 10 5x5 filters with stride 1, pad 2": each filter has 5*5*3 + 1 = 76
  # params, 760 in total, output 32x32x10. The course's ThreeLayerConvNet builds that conv layer
  # (pad (F - 1)/2 = 2, stride 1), so the count is the model's own.
  net = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=10, filter_size=5, hidden_dim=1, seed=0)
  assert net.params["W1"][0].size + 1 == 76
  assert net.params["W1"].size + net.params["b1"].size == 760
  assert net.conv_param == {"stride": 1, "pad": 2}
  out, _ = L.conv_forward_fast(np.zeros((1, 3, 32, 32), np.float32), net.params["W1"], net.params["b1"], net.conv_param)
  assert out.shape == (1, 10, 32, 32)
  # 1x1 conv, 32 filters over 64 channels: a 64-d dot product per position, 32*64 + 32 params.
  w1, b1 = np.ones((32, 64, 1, 1), np.float32), np.zeros(32, np.float32)
  out, _ = L.conv_forward_fast(np.ones((1, 64, 5, 5), np.float32), w1, b1, {"stride": 1, "pad": 0})
  assert w1.size + b1.size == 2080 and out.shape == (1, 32, 5, 5) and float(out[0, 0, 0, 0]) == 64.0
  # Caffe's conv1: 96 filters of 11x11 over a 3-channel input -> (F*F*D1)*K + K = 96 * 363 + 96.
  conv1 = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=96, filter_size=11, hidden_dim=1, seed=0)
  assert conv1.params["W1"].size + conv1.params["b1"].size == 34944
  # Pooling: F=2,S=2 halves H and W and keeps the depth; F=3,S=2 follows (W - 3)/2 + 1; no params.
  out, _ = L.max_pool_forward_fast(np.zeros((1, 5, 32, 32), np.float32), POOL_TILE)
  assert out.shape == (1, 5, 16, 16)
  assert L.pool_output_size(31, 3, 2) == 15


# ---------------------------------------------------------------------------------------------
# Batch norm (curriculum E17) and dropout semantics.
# ---------------------------------------------------------------------------------------------


def test_batchnorm_train_normalises_and_can_recover_the_identity():
  rng = np.random.default_rng(0)
  x = 3.0 * rng.standard_normal((200, 4)) + np.array([1.0, -2.0, 5.0, 0.0])
  eps = 1e-5
  with jax.enable_x64(True):
    out, _ = L.batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train", "eps": eps})
    var = x.var(axis=0)
    np.testing.assert_allclose(np.asarray(out).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(out).var(axis=0), var / (var + eps), atol=1e-12)
    gamma, beta = np.sqrt(var + eps), x.mean(axis=0)
    back, _ = L.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
  np.testing.assert_allclose(back, x, atol=1e-10)


def test_batchnorm_running_averages_follow_the_course_formula_and_converge():
  rng = np.random.default_rng(1)
  param = {"mode": "train"}
  x = rng.standard_normal((50, 3))
  L.batchnorm_forward(x, np.ones(3), np.zeros(3), param)  # float64 numpy in: computed in float64
  assert isinstance(param["running_mean"], np.ndarray) and param["running_mean"].dtype == np.float64
  # One step from zero: running = 0.9 * 0 + 0.1 * batch statistic (biased variance).
  np.testing.assert_allclose(param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(param["running_var"], 0.1 * x.var(axis=0), rtol=1e-12)
  for _ in range(200):
    L.batchnorm_forward(2.0 * rng.standard_normal((500, 3)) + 3.0, np.ones(3), np.zeros(3), param)
  # A momentum-0.9 average weighs about (1 + 0.9) / (1 - 0.9) = 19 batches, ~9,500 samples: its
  # relative noise is ~0.7% for the mean (2/sqrt(9500)/3) and ~1.5% for the variance (sqrt(2/9500));
  # the bounds are about 3 of those.
  np.testing.assert_allclose(param["running_mean"], 3.0, rtol=0.02)
  np.testing.assert_allclose(param["running_var"], 4.0, rtol=0.05)


def test_batchnorm_test_mode_output_does_not_depend_on_the_batch():
  rng = np.random.default_rng(2)
  param = {"mode": "test", "running_mean": np.array([0.5, -1.0]), "running_var": np.array([2.0, 0.5])}
  gamma, beta = np.array([1.5, 0.5]), np.array([0.1, -0.2])
  a, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
  alone, _ = L.batchnorm_forward(a[:1], gamma, beta, dict(param))
  together, _ = L.batchnorm_forward(np.concatenate([a[:1], b]), gamma, beta, dict(param))
  np.testing.assert_array_equal(alone[0], together[0])
  train_alone, _ = L.batchnorm_forward(a[:2], gamma, beta, {"mode": "train"})
  train_together, _ = L.batchnorm_forward(np.concatenate([a[:2], b]), gamma, beta, {"mode": "train"})
  assert np.abs(train_alone[0] - train_together[0]).max() > 1e-3


def test_spatial_batchnorm_normalises_per_channel_over_n_h_w():
  rng = np.random.default_rng(3)
  x = rng.standard_normal((4, 3, 5, 5)) * np.array([1.0, 5.0, 0.5])[None, :, None, None] + 7.0
  with jax.enable_x64(True):
    out, _ = L.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
  out = np.asarray(out)
  np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
  np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-4)


def test_dropout_keep_probability_and_inverted_scaling():
  x = np.ones((400, 500), np.float32)
  for p in (0.25, 0.6, 0.9):
    out, _ = L.dropout_forward(x, {"mode": "train", "p": p, "seed": 0})
    out = np.asarray(out)
    assert abs((out == 0).mean() - (1 - p)) < 0.01  # p is the KEEP probability
    assert abs(out.mean() - 1.0) < 0.01  # train expectation equals the test output
    test_out, _ = L.dropout_forward(x, {"mode": "test", "p": p})
    np.testing.assert_array_equal(test_out, x)
  same1, _ = L.dropout_forward(x[:5], {"mode": "train", "p": 0.5, "seed": 7})
  same2, _ = L.dropout_forward(x[:5], {"mode": "train", "p": 0.5, "seed": 7})
  np.testing.assert_array_equal(same1, same2)


def test_dropout_bad_input_and_jit_without_key():
  with pytest.raises(ValueError, match="KEEP probability"):
    L.dropout_forward(np.ones(3), {"mode": "train", "p": 0.0})
  with pytest.raises(ValueError, match="mode"):
    L.dropout_forward(np.ones(3), {"mode": "eval", "p": 0.5})
  with pytest.raises(ValueError, match="under jit"):
    jax.jit(lambda x: L.dropout_forward(x, {"mode": "train", "p": 0.5})[0])(jnp.ones(3))


# ---------------------------------------------------------------------------------------------
# custom_vjp versions, precision handling, bad input.
# ---------------------------------------------------------------------------------------------


def test_differentiable_layers_use_the_hand_written_backward():
  # A backward pass that is deliberately not the derivative proves which one jax.grad runs.
  fake_relu = D.hand_written_vjp(L.relu_forward, lambda dout, cache: 2.0 * dout, 1)
  g = jax.grad(lambda x: jnp.sum(fake_relu(x)))(jnp.array([-1.0, 3.0]))
  np.testing.assert_array_equal(g, [2.0, 2.0])


DIFFERENTIABLE = [
    ("affine", lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 2)), r.standard_normal(2)), D.affine,
     L.affine_forward, L.affine_backward),
    ("relu", lambda r: (r.standard_normal((3, 4)),), D.relu, L.relu_forward, L.relu_backward),
    ("leaky_relu", lambda r: (r.standard_normal((3, 4)),), D.leaky_relu_default, L.leaky_relu_forward, L.leaky_relu_backward),
    ("sigmoid", lambda r: (r.standard_normal((3, 4)),), D.sigmoid, L.sigmoid_forward, L.sigmoid_backward),
    ("tanh", lambda r: (r.standard_normal((3, 4)),), D.tanh, L.tanh_forward, L.tanh_backward),
    ("elu", lambda r: (r.standard_normal((3, 4)),), D.elu, L.elu_forward, L.elu_backward),
    ("maxout", lambda r: (r.standard_normal((3, 4)), r.standard_normal((2, 4, 5)), r.standard_normal((2, 5))), D.maxout,
     L.maxout_forward, L.maxout_backward),
    ("layernorm", lambda r: (r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal(4)), D.layernorm,
     lambda x, g, b: L.layernorm_forward(x, g, b, {}), L.layernorm_backward),
    ("spatial_groupnorm", lambda r: (r.standard_normal((2, 4, 3, 3)), r.standard_normal((1, 4, 1, 1)), r.standard_normal((1, 4, 1, 1))),
     lambda x, g, b: D.spatial_groupnorm(x, g, b, 2), lambda x, g, b: L.spatial_groupnorm_forward(x, g, b, 2, {}),
     L.spatial_groupnorm_backward),
    ("batchnorm_test", lambda r: (r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal(4)),
     lambda x, g, b: D.batchnorm(x, g, b, jnp.full(4, 0.5), jnp.full(4, 2.0), "test")[0],
     lambda x, g, b: L.batchnorm_forward(x, g, b, {"mode": "test", "running_mean": jnp.full(4, 0.5), "running_var": jnp.full(4, 2.0)}),
     L.batchnorm_backward),
    ("spatial_batchnorm", lambda r: (r.standard_normal((2, 3, 2, 2)), r.standard_normal(3), r.standard_normal(3)),
     lambda x, g, b: D.spatial_batchnorm(x, g, b, jnp.zeros(3), jnp.zeros(3))[0],
     lambda x, g, b: L.spatial_batchnorm_forward(x, g, b, {"mode": "train"}), L.spatial_batchnorm_backward),
    ("dropout", lambda r: (r.standard_normal((3, 4)),), lambda x: D.dropout(x, jax.random.key(1), 0.6),
     lambda x: L.dropout_forward(x, {"mode": "train", "p": 0.6, "key": jax.random.key(1)}), L.dropout_backward),
    ("conv2d_naive", lambda r: (r.standard_normal((1, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3)),
     lambda x, w, b: D.conv2d_naive(x, w, b, 1, 1), lambda x, w, b: L.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1}),
     L.conv_backward_naive),
    ("max_pool_naive", lambda r: (r.standard_normal((1, 2, 4, 4)),), D.max_pool_naive,
     lambda x: L.max_pool_forward_naive(x, POOL_TILE), L.max_pool_backward_naive),
    ("affine_relu", lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 5)), r.standard_normal(5)), D.affine_relu,
     L.affine_relu_forward, L.affine_relu_backward),
    ("affine_ln_relu", lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 5)), r.standard_normal(5), r.standard_normal(5),
                                  r.standard_normal(5)),
     D.affine_ln_relu, lambda x, w, b, g, be: L.affine_ln_relu_forward(x, w, b, g, be, {}), L.affine_ln_relu_backward),
    ("affine_bn_relu", lambda r: (r.standard_normal((6, 4)), r.standard_normal((4, 5)), r.standard_normal(5), r.standard_normal(5),
                                  r.standard_normal(5)),
     lambda x, w, b, g, be: D.affine_bn_relu(x, w, b, g, be, jnp.zeros(5), jnp.zeros(5))[0],
     lambda x, w, b, g, be: L.affine_bn_relu_forward(x, w, b, g, be, {"mode": "train"}), L.affine_bn_relu_backward),
    ("conv_relu", lambda r: (r.standard_normal((1, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3)),
     lambda x, w, b: D.conv_relu(x, w, b, 1, 1), lambda x, w, b: L.conv_relu_forward(x, w, b, {"stride": 1, "pad": 1}),
     L.conv_relu_backward),
    ("conv_relu_pool", lambda r: (r.standard_normal((1, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3)),
     lambda x, w, b: D.conv_relu_pool(x, w, b, 1, 1), lambda x, w, b: L.conv_relu_pool_forward(x, w, b, {"stride": 1, "pad": 1}, POOL_TILE),
     L.conv_relu_pool_backward),
    ("conv_bn_relu", lambda r: (r.standard_normal((2, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3),
                                r.standard_normal(3), r.standard_normal(3)),
     lambda x, w, b, g, be: D.conv_bn_relu(x, w, b, g, be, jnp.zeros(3), jnp.zeros(3), 1, 1)[0],
     lambda x, w, b, g, be: L.conv_bn_relu_forward(x, w, b, g, be, {"stride": 1, "pad": 1}, {"mode": "train"}), L.conv_bn_relu_backward),
]


@pytest.mark.parametrize("name,inputs,diff,forward,backward", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_every_differentiable_layer_returns_the_hand_written_gradient(name, inputs, diff, forward, backward):
  args = inputs(np.random.default_rng(7))
  out, cache = forward(*args)
  dout = np.random.default_rng(8).standard_normal(np.shape(out)).astype(np.float32)
  hand = backward(dout, cache)
  hand = hand if isinstance(hand, tuple) else (hand,)
  np.testing.assert_allclose(diff(*args), out, rtol=1e-6, atol=1e-6)
  grads = jax.jit(jax.grad(lambda *a: jnp.sum(diff(*a) * dout), argnums=tuple(range(len(args)))))(*args)
  for g, h in zip(grads, hand):
    np.testing.assert_allclose(g, h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spatial", [False, True])
def test_differentiable_bn_sandwiches_return_the_courses_running_averages(spatial):
  rng = np.random.default_rng(10)
  x = rng.standard_normal((4, 2, 4, 4) if spatial else (6, 4)).astype(np.float32)
  w = rng.standard_normal((3, 2, 3, 3) if spatial else (4, 3)).astype(np.float32)
  b, g, be = (rng.standard_normal(3).astype(np.float32) for _ in range(3))
  mean0, var0 = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
  bn_param = {"mode": "train", "running_mean": mean0, "running_var": var0}
  if spatial:
    _, mean, var = D.conv_bn_relu(x, w, b, g, be, mean0, var0, 1, 1)
    L.conv_bn_relu_forward(x, w, b, g, be, {"stride": 1, "pad": 1}, bn_param)
  else:
    _, mean, var = D.affine_bn_relu(x, w, b, g, be, mean0, var0)
    L.affine_bn_relu_forward(x, w, b, g, be, bn_param)
  np.testing.assert_allclose(mean, bn_param["running_mean"], rtol=1e-6)
  np.testing.assert_allclose(var, bn_param["running_var"], rtol=1e-6)
  assert np.abs(np.asarray(mean) - mean0).max() > 1e-3  # they moved


def test_svm_loss_value_gradient_is_svm_loss_dx():
  x, y = np.random.default_rng(9).standard_normal((5, 4)).astype(np.float32), np.array([0, 1, 2, 3, 0])
  np.testing.assert_allclose(jax.grad(D.svm_loss_value)(x, y), L.svm_loss(x, y)[1], rtol=1e-6)


def test_differentiable_small_network_grad_equals_hand_written_pairs():
  rng = np.random.default_rng(5)
  x = rng.standard_normal((4, 1, 6, 6))
  w1, b1 = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
  w2, b2 = rng.standard_normal((27, 4)), rng.standard_normal(4)
  g, beta = rng.standard_normal(4), rng.standard_normal(4)
  y = np.array([0, 1, 2, 3])

  def loss(w1, b1, w2, b2, g, beta):
    h = D.max_pool(D.relu(D.conv2d(x, w1, b1, stride=1, pad=1)), 2, 2, 2)
    h = D.affine(h, w2, b2)
    h, _, _ = D.batchnorm(h, g, beta, jnp.zeros(4), jnp.zeros(4))
    return D.softmax_loss_value(D.tanh(h), y)

  with jax.enable_x64(True):
    grads = jax.jit(jax.grad(loss, argnums=range(6)))(w1, b1, w2, b2, g, beta)
    # The same network, forward and backward by hand.
    c1, cc = L.conv_relu_pool_forward(x, w1, b1, {"stride": 1, "pad": 1}, POOL_TILE)
    a, ca = L.affine_forward(c1, w2, b2)
    n, cn = L.batchnorm_forward(a, g, beta, {"mode": "train"})
    t, ct = L.tanh_forward(n)
    _, dt = L.softmax_loss(t, y)
    dn, dg, dbeta = L.batchnorm_backward(L.tanh_backward(dt, ct), cn)
    dc1, dw2, db2 = L.affine_backward(dn, ca)
    _, dw1, db1 = L.conv_relu_pool_backward(dc1, cc)
  for got, hand in zip(grads, (dw1, db1, dw2, db2, dg, dbeta)):
    np.testing.assert_allclose(got, hand, rtol=1e-10, atol=1e-14)


def test_float64_in_numpy_out_and_float32_stays_float32():
  x64 = np.random.default_rng(0).standard_normal((3, 4))
  out, _ = L.affine_forward(x64, np.ones((4, 2)), np.zeros(2))
  assert isinstance(out, np.ndarray) and out.dtype == np.float64
  assert not jax.config.jax_enable_x64  # the scope closed again
  out32, _ = L.affine_forward(x64.astype(np.float32), np.ones((4, 2), np.float32), np.zeros(2, np.float32))
  assert out32.dtype == np.float32


def conv_cache(forward):
  """The cache of a 5x5 input under 3x3 filters with pad 1 (a 5x5 output), for the dout checks."""
  return forward(np.zeros((1, 3, 5, 5), np.float32), np.zeros((2, 3, 3, 3), np.float32), np.zeros(2, np.float32),
                 {"stride": 1, "pad": 1})[1]


def pool_cache(forward):
  """The cache of a 4x4 input under 2x2 stride-2 pooling (a 2x2 output)."""
  return forward(np.zeros((1, 1, 4, 4), np.float32), POOL_TILE)[1]


@pytest.mark.parametrize("call,pattern", [
    (lambda: L.affine_forward(np.zeros((2, 4, 5)), np.zeros((21, 3)), np.zeros(3)), r"x \(2, 4, 5\).*20.*w \(21, 3\)"),
    (lambda: L.affine_forward(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(2)), r"b must have shape \(3,\)"),
    (lambda: L.conv_forward_fast(np.zeros((1, 3, 8, 8)), np.zeros((2, 4, 3, 3)), np.zeros(2), {"stride": 1, "pad": 1}),
     r"x \(1, 3, 8, 8\) has 3 channels but w \(2, 4, 3, 3\) expects 4"),
    (lambda: L.conv_forward_naive(np.zeros((3, 8, 8)), np.zeros((2, 3, 3, 3)), np.zeros(2), {"stride": 1, "pad": 1}), r"\(N, C, H, W\)"),
    (lambda: L.conv_forward_naive(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), np.zeros(2), {"stride": 1}), "conv_param"),
    (lambda: L.max_pool_forward_fast(np.zeros((1, 1, 5, 5)), POOL_TILE), r"\(5 - 2\)/2"),
    (lambda: L.softmax_loss(np.zeros((4, 3)), np.zeros(5, int)), r"\(4,\) to match scores \(4, 3\)"),
    (lambda: L.svm_loss(np.zeros((2, 3)), np.array([0, 3])), r"\[0, 3\)"),
    (lambda: L.batchnorm_forward(np.zeros((4, 3)), np.ones(2), np.zeros(3), {"mode": "train"}), r"gamma must have shape \(3,\)"),
    (lambda: L.batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), {}), "mode"),
    (lambda: L.spatial_groupnorm_forward(np.zeros((1, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), 4),
     "divide the 6 channels"),
    (lambda: L.maxout_forward(np.zeros((2, 5)), np.zeros((2, 4, 3)), np.zeros((2, 3))), r"w \(2, 4, 3\) expects 4"),
    (lambda: L.conv_backward_naive(np.zeros((1, 2, 3, 3)), conv_cache(L.conv_forward_naive)),
     r"dout \(1, 2, 3, 3\) must have the forward output's shape \(1, 2, 5, 5\)"),
    (lambda: L.conv_backward_fast(np.zeros((1, 2, 3, 3)), conv_cache(L.conv_forward_fast)),
     r"dout \(1, 2, 3, 3\) must have the forward output's shape \(1, 2, 5, 5\)"),
    (lambda: L.max_pool_backward_naive(np.zeros((1, 1, 1, 1)), pool_cache(L.max_pool_forward_naive)),
     r"dout \(1, 1, 1, 1\) must have the forward output's shape \(1, 1, 2, 2\)"),
    (lambda: L.max_pool_backward_fast(np.zeros((1, 1, 1, 1)), pool_cache(L.max_pool_forward_fast)),
     r"dout \(1, 1, 1, 1\) must have the forward output's shape \(1, 1, 2, 2\)"),
])
def test_bad_input_names_both_shapes(call, pattern):
  with pytest.raises(ValueError, match=pattern):
    call()
