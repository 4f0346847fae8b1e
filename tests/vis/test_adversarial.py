"""Attacks: FGSM against the closed-form softmax gradient of a linear model; PGD stays in its ball and in
[0, 1] and fools a random network; the lecture's fooling loop reaches every target."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import adversarial


def test_fgsm_is_the_sign_of_the_softmax_gradient():
  rng = np.random.default_rng(0)
  w, b = rng.normal(size=(48, 5)), rng.normal(size=5)
  x = rng.random((4, 4, 4, 3))
  y = np.array([0, 1, 2, 3])
  with jax.enable_x64(True):
    fn = lambda z: z.reshape(z.shape[0], -1) @ w + b  # noqa: E731
    logits = x.reshape(4, -1) @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = ((p - np.eye(5)[y]) @ w.T).reshape(x.shape)
    out = np.asarray(adversarial.fgsm(fn, jnp.asarray(x), jnp.asarray(y), 0.1))
    np.testing.assert_allclose(out, np.clip(x + 0.1 * np.sign(grad), 0, 1), atol=1e-12)
    out_t = np.asarray(adversarial.fgsm(fn, jnp.asarray(x), jnp.asarray(y), 0.1, targeted=True))
    np.testing.assert_allclose(out_t, np.clip(x - 0.1 * np.sign(grad), 0, 1), atol=1e-12)


def test_projection():
  d = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4, 4, 2)))
  assert float(jnp.abs(adversarial.project(d, 0.2, "linf")).max()) == pytest.approx(0.2)
  norms = jnp.sqrt(jnp.sum(adversarial.project(d, 0.5, "l2") ** 2, axis=(1, 2, 3)))
  np.testing.assert_allclose(np.asarray(norms), 0.5, rtol=1e-5)
  small = d * 1e-3
  np.testing.assert_allclose(np.asarray(adversarial.project(small, 0.5, "l2")), np.asarray(small), rtol=1e-6)
  with pytest.raises(ValueError, match="norm: expected one of"):
    adversarial.project(d, 0.1, "l1")


@pytest.fixture(scope="module")
def cnn():
  """A nearest-template classifier (logit_c = -||x - T_c||^2 / 8, T_c uniform in [0, 1]): nonlinear, and
  every class wins somewhere inside the pixel box (at its template), so any target is reachable."""
  templates = jax.random.uniform(jax.random.PRNGKey(0), (10, 64))
  return lambda x: -jnp.sum((x.reshape(x.shape[0], 1, -1) - templates) ** 2, axis=-1) / 8.0


@pytest.mark.parametrize("norm,eps,step", [("linf", 0.5, 0.05), ("l2", 4.0, 0.5)])
def test_pgd_stays_in_the_ball_and_fools(cnn, norm, eps, step):
  x = jax.random.uniform(jax.random.PRNGKey(1), (6, 8, 8, 1))
  pred = jnp.argmax(cnn(x), -1)
  targets = (pred + 1 + jnp.arange(6) % 9) % 10
  run = jax.jit(lambda z, t, k: adversarial.pgd(cnn, z, t, eps, step, 40, norm=norm, targeted=True, key=k,
                                                stop_on_success=True))
  adv, success = run(x, targets, jax.random.PRNGKey(2))
  linf, l2 = adversarial.perturbation_norms(adv, x)
  assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
  bound = linf if norm == "linf" else l2
  assert float(bound.max()) <= eps * (1 + 1e-5)
  assert bool(success.all())
  np.testing.assert_array_equal(np.asarray(jnp.argmax(cnn(adv), -1)), np.asarray(targets))


def test_untargeted_pgd_changes_the_prediction(cnn):
  x = jax.random.uniform(jax.random.PRNGKey(3), (6, 8, 8, 1))
  labels = jnp.argmax(cnn(x), -1)
  adv, success = jax.jit(lambda z: adversarial.pgd(cnn, z, labels, 0.3, 0.05, 30))(x)
  assert bool(success.all()) and bool((jnp.argmax(cnn(adv), -1) != labels).all())


def test_fooling_any_image_to_any_class(cnn):
  x = jax.random.uniform(jax.random.PRNGKey(4), (10, 8, 8, 1))
  targets = jnp.arange(10)
  fooled, success = jax.jit(lambda z: adversarial.fool(cnn, z, targets, lr=0.05, steps=300))(x)
  assert bool(success.all())
  np.testing.assert_array_equal(np.asarray(jnp.argmax(cnn(fooled), -1)), np.arange(10))
  assert float(fooled.min()) >= 0 and float(fooled.max()) <= 1


def test_pgd_in_chunks_dropping_finished_attacks_equals_one_run(cnn):
  """pgd_until_success (batches of 3, 4 steps per call, finished attacks dropped, a piecewise step schedule)
  returns the images, successes and first-success steps of one pgd_trace run with stop_on_success."""
  x = jax.random.uniform(jax.random.PRNGKey(5), (7, 8, 8, 1))
  targets = (jnp.argmax(cnn(x), -1) + 1 + jnp.arange(7) % 9) % 10
  size = adversarial.piecewise_step_size(0.004, ((8, 0.5), (12, 0.5)))
  assert [float(size(i)) for i in (0, 7, 8, 11, 12)] == pytest.approx([0.004, 0.004, 0.002, 0.002, 0.001])
  ref_x, ref_ok, ref_first = jax.jit(lambda z, t: adversarial.pgd_trace(cnn, z, t, 0.08, size, 16, targeted=True,
                                                                        stop_on_success=True))(x, targets)
  chunk = jax.jit(lambda *a: adversarial.pgd_continue(cnn, *a, 0.08, size, 4, targeted=True))
  adv, ok, first = adversarial.pgd_until_success(chunk, np.asarray(x), np.asarray(targets), 16, 4, 3)
  ref_first = np.asarray(ref_first)
  assert (ref_first > 0).sum() >= 3 and (ref_first > 4).any() and (ref_first == -1).any()  # the case is not trivial
  np.testing.assert_array_equal(first, ref_first)
  np.testing.assert_array_equal(ok, np.asarray(ref_ok))
  np.testing.assert_allclose(adv, np.asarray(ref_x), atol=1e-6)
  with pytest.raises(ValueError, match="steps: expected a multiple of chunk"):
    adversarial.pgd_until_success(chunk, np.asarray(x), np.asarray(targets), 10, 4, 3)
