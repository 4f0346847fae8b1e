"""gradcheck's API and lecture 4's worked backprop examples (hand-written chain rule vs jax.grad)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax import gradcheck as G
from cs231n_jax.layers import sigmoid_backward, sigmoid_forward


def test_rel_error_is_the_courses_definition():
  assert G.rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
  assert G.rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
  assert G.rel_error(np.zeros(3), np.zeros(3)) == 0.0  # the 1e-8 floor avoids 0/0
  with pytest.raises(ValueError, match=r"x \(2,\) vs y \(3,\)"):
    G.rel_error(np.zeros(2), np.zeros(3))


def test_eval_numerical_gradient_perturbs_in_place_like_the_course():
  # The course's idiom: f ignores its argument and reads shared state that x *is*.
  params = {"w": np.array([1.0, -2.0, 3.0])}
  f = lambda _: float(np.sum(params["w"] ** 3))
  grad = G.eval_numerical_gradient(f, params["w"], verbose=False)
  np.testing.assert_allclose(grad, 3 * params["w"] ** 2, rtol=1e-8)
  np.testing.assert_array_equal(params["w"], [1.0, -2.0, 3.0])  # restored afterwards


def test_numerical_vjp_equals_the_loop_version():
  rng = np.random.default_rng(0)
  x, df = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
  with jax.enable_x64(True):
    vectorised = G.numerical_vjp(jnp.tanh, x, df)
  loop = G.eval_numerical_gradient_array(np.tanh, x.copy(), df)
  assert G.rel_error(vectorised, loop) < 1e-9
  assert G.rel_error(loop, df * (1 - np.tanh(x) ** 2)) < G.SMOOTH_THRESHOLD


def test_centred_difference_beats_forward_difference_whose_error_shrinks_with_h():
  f = lambda x: float(np.sum(np.sin(x)))
  x = np.array([0.7])
  exact = np.cos(0.7)
  forward_errors = [abs((f(x + h) - f(x)) / h - exact) for h in (1e-2, 1e-3, 1e-4)]
  # "Approximate": the forward difference's error is O(h), about 10x smaller per 10x smaller h.
  assert forward_errors[0] / forward_errors[1] == pytest.approx(10, rel=0.05)
  assert forward_errors[1] / forward_errors[2] == pytest.approx(10, rel=0.05)
  centred = G.eval_numerical_gradient(f, x.copy(), verbose=False, h=1e-4)
  assert abs(centred[0] - exact) < forward_errors[2] / 1000


def test_lecture4_f_equals_x_plus_y_times_z():
  x, y, z = -2.0, 5.0, -4.0
  # Forward, then the chain rule by hand: q = x + y, f = q z.
  q = x + y
  f = q * z
  df_dz, df_dq = q, z
  df_dx, df_dy = df_dq * 1.0, df_dq * 1.0  # the add gate distributes the upstream gradient
  assert (f, df_dx, df_dy, df_dz) == (-12.0, -4.0, -4.0, 3.0)
  assert jax.grad(lambda x, y, z: (x + y) * z, argnums=(0, 1, 2))(x, y, z) == (-4.0, -4.0, 3.0)


def test_lecture4_sigmoid_neuron_with_the_sigmoid_gate():
  # f(w, x) = σ(w0 x0 + w1 x1 + w2) at the slide's w = (2, -3, -3), x = (-1, -2).
  w, x = np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])
  dot = w[0] * x[0] + w[1] * x[1] + w[2]
  out, cache = sigmoid_forward(np.array(dot))
  ddot = float(sigmoid_backward(np.array(1.0), cache))  # (1 - σ) σ
  hand = np.array([x[0] * ddot, x[1] * ddot, ddot, w[0] * ddot, w[1] * ddot])
  auto = jax.grad(lambda w, x: jax.nn.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2]), argnums=(0, 1))(w, x)
  np.testing.assert_allclose(hand, np.concatenate(auto), rtol=1e-6)
  assert float(out) == pytest.approx(0.73, abs=0.005)
  np.testing.assert_allclose(hand, [-0.20, -0.39, 0.20, 0.39, -0.59], atol=0.005)


def test_lecture4_vectorised_example_norm_of_wx():
  W = np.array([[0.1, 0.5], [-0.3, 0.8]])
  x = np.array([0.2, 0.4])
  q = W @ x
  dW_hand, dx_hand = 2 * np.outer(q, x), 2 * W.T @ q  # ∂f/∂W = 2 q xᵀ, ∂f/∂x = 2 Wᵀ q
  with jax.enable_x64(True):
    dW, dx = jax.grad(lambda W, x: jnp.sum((W @ x) ** 2), argnums=(0, 1))(W, x)
  assert G.rel_error(dW_hand, dW) < 1e-10 and G.rel_error(dx_hand, dx) < 1e-10
  assert dW.shape == W.shape and dx.shape == x.shape  # "same shape as the variable"


def test_lecture4_twenty_line_network_backprop_matches_autodiff():
  rng = np.random.default_rng(0)
  x, y = rng.standard_normal((8, 10)), rng.standard_normal((8, 3))
  w1, w2 = rng.standard_normal((10, 6)), rng.standard_normal((6, 3))
  h = 1 / (1 + np.exp(-x.dot(w1)))
  y_pred = h.dot(w2)
  grad_y_pred = 2.0 * (y_pred - y)
  grad_w2 = h.T.dot(grad_y_pred)
  grad_h = grad_y_pred.dot(w2.T)
  grad_w1 = x.T.dot(grad_h * h * (1 - h))
  with jax.enable_x64(True):
    g1, g2 = jax.grad(lambda w1, w2: jnp.sum((jax.nn.sigmoid(x @ w1) @ w2 - y) ** 2), argnums=(0, 1))(w1, w2)
  assert G.rel_error(grad_w1, g1) < 1e-10 and G.rel_error(grad_w2, g2) < 1e-10
