"""Saliency, guided backprop, SmoothGrad and integrated gradients against closed forms (a linear model,
whose gradient is its weight column) and against NumPy (the guided ReLUs' backward rule, in float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import digits_cnn, saliency


def linear_model(seed=0, shape=(6, 5, 3), classes=4, dtype=np.float64):
  rng = np.random.default_rng(seed)
  w = rng.normal(size=(int(np.prod(shape)), classes)).astype(dtype)
  b = rng.normal(size=classes).astype(dtype)
  return (lambda x: x.reshape(x.shape[0], -1) @ w + b), w, b


def test_guided_relus_forward_and_backward_rules():
  with jax.enable_x64(True):
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=50) * 4, rng.normal(size=50)
    for fn, forward, passes in ((saliency.guided_relu, np.maximum(x, 0), x > 0),
                                (saliency.guided_relu6, np.clip(x, 0, 6), (x > 0) & (x < 6))):
      out, vjp = jax.vjp(fn, jnp.asarray(x))
      np.testing.assert_array_equal(np.asarray(out), forward)
      (back,) = vjp(jnp.asarray(g))
      assert back.dtype == jnp.float64
      np.testing.assert_array_equal(np.asarray(back), np.where(passes & (g > 0), g, 0.0))


def test_vanilla_gradient_of_a_linear_model_is_its_weight_column():
  with jax.enable_x64(True):
    fn, w, _ = linear_model()
    x = np.random.default_rng(1).random((3, 6, 5, 3))
    labels = np.array([0, 3, 1])
    grads = np.asarray(saliency.vanilla_gradients(fn, jnp.asarray(x), jnp.asarray(labels)))
    np.testing.assert_allclose(grads, w[:, labels].T.reshape(x.shape), atol=1e-12)
    np.testing.assert_allclose(np.asarray(saliency.saliency_map(grads)), np.abs(grads).max(-1))


def test_smoothgrad_of_a_linear_model_is_its_weight_column():
  with jax.enable_x64(True):
    fn, w, _ = linear_model()
    x = jnp.asarray(np.random.default_rng(2).random((2, 6, 5, 3)))
    labels = jnp.array([2, 1])
    sg = saliency.smoothgrad(fn, x, labels, jax.random.PRNGKey(0), num_samples=5)
    np.testing.assert_allclose(np.asarray(sg), w[:, [2, 1]].T.reshape(x.shape), atol=1e-12)
    sq = saliency.smoothgrad(fn, x, labels, jax.random.PRNGKey(0), num_samples=3, squared=True)
    np.testing.assert_allclose(np.asarray(sq), (w[:, [2, 1]].T ** 2).reshape(x.shape), atol=1e-12)


def test_integrated_gradients_exact_for_linear_and_complete_for_a_cnn():
  with jax.enable_x64(True):
    fn, w, _ = linear_model()
    x = jnp.asarray(np.random.default_rng(3).random((2, 6, 5, 3)))
    labels = jnp.array([3, 0])
    ig = saliency.integrated_gradients(fn, x, labels, steps=4)
    np.testing.assert_allclose(np.asarray(ig), np.asarray(x) * w[:, [3, 0]].T.reshape(x.shape), atol=1e-12)
    # Completeness on a smooth nonlinear network (softplus, one stage: no max-pool kinks, so the
    # trapezoid rule's error is O(1/steps^2)): the attributions sum to score(x) - score(baseline).
    model = digits_cnn.VisDigitsCNN(features=(6,), relu=jax.nn.softplus)
    params = jax.tree.map(lambda a: a.astype(jnp.float64),
                          model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1))))
    cnn = lambda z: model.apply(params, z)  # noqa: E731
    img = jnp.asarray(np.random.default_rng(4).random((2, 8, 8, 1)))
    lab = jnp.array([1, 7])
    attr = saliency.integrated_gradients(cnn, img, lab, steps=128)
    gap = saliency.class_scores(cnn, img, lab) - saliency.class_scores(cnn, jnp.zeros_like(img), lab)
    np.testing.assert_allclose(np.asarray(attr.sum(axis=(1, 2, 3))), np.asarray(gap), rtol=1e-5, atol=1e-7)


def test_guided_backprop_differs_from_vanilla_only_through_the_relus():
  model = digits_cnn.VisDigitsCNN(features=(8, 8))
  variables = model.init(jax.random.PRNGKey(1), jnp.zeros((1, 8, 8, 1)))
  guided = model.clone(relu=saliency.guided_relu)
  x = jax.random.uniform(jax.random.PRNGKey(2), (3, 8, 8, 1))
  labels = jnp.array([0, 1, 2])
  # Each check in one jitted program (eager mode compiles every primitive on its own: slower).
  forward = jax.jit(lambda z: (model.apply(variables, z), guided.apply(variables, z)))
  np.testing.assert_array_equal(*(np.asarray(o) for o in forward(x)))
  plain = jax.jit(lambda z: saliency.attribute("vanilla", lambda u: model.apply(variables, u), z, labels))(x)
  g = jax.jit(lambda z: saliency.attribute("guided", lambda u: model.apply(variables, u), z, labels,
                                           guided_logits_fn=lambda u: guided.apply(variables, u)))(x)
  assert not np.allclose(np.asarray(plain), np.asarray(g))
  with pytest.raises(ValueError, match="method: expected one of"):
    saliency.attribute("deconv", lambda z: model.apply(variables, z), x, labels)
