"""SSL losses: NumPy references, the InfoNCE mutual-information bound, and the global batch across 8 devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from cs231n_jax.ssl import losses


def np_normalize(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_logsumexp(a):
  m = a.max()
  return m + np.log(np.exp(a - m).sum())


def test_info_nce_matches_numpy_with_the_negatives_in_the_denominator():
  rng = np.random.default_rng(0)
  q, k, neg = rng.normal(size=(5, 4)), rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
  t = 0.2
  ref = []
  for i in range(5):
    pos = np_normalize(q[i]) @ np_normalize(k[i]) / t
    negs = [np_normalize(q[i]) @ np_normalize(n) / t for n in neg]
    ref.append(-(pos - np.log(np.exp(pos) + np.sum(np.exp(negs)))))  # the corrected denominator
  got = losses.info_nce(jnp.asarray(q), jnp.asarray(k), jnp.asarray(neg), t)
  np.testing.assert_allclose(got, ref, rtol=1e-5)
  # Per-query negatives (N, K, D) give the same when every query has the same ones.
  got2 = losses.info_nce(jnp.asarray(q), jnp.asarray(k), jnp.broadcast_to(jnp.asarray(neg), (5, 7, 4)), t)
  np.testing.assert_allclose(got2, ref, rtol=1e-5)
  # The notes' printed denominator (positives only) would be the constant log N: ours is not.
  assert np.std(ref) > 0.1
  for bad in (0.0, -0.5):
    with pytest.raises(ValueError, match="temperature: expected a positive number"):
      losses.info_nce(jnp.asarray(q), jnp.asarray(k), jnp.asarray(neg), bad)
    with pytest.raises(ValueError, match="temperature"):
      losses.nt_xent(jnp.asarray(q), jnp.asarray(k), bad)


def np_nt_xent(z1, z2, t):
  z = np_normalize(np.concatenate([z1, z2]))
  n = len(z1)
  total = 0.0
  for i in range(2 * n):
    j = (i + n) % (2 * n)
    scores = np.array([z[i] @ z[m] / t for m in range(2 * n) if m != i])
    total += np_logsumexp(scores) - z[i] @ z[j] / t
  return total / (2 * n)


def test_nt_xent_clip_byol_cpc_match_numpy():
  rng = np.random.default_rng(1)
  z1, z2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
  np.testing.assert_allclose(losses.nt_xent(jnp.asarray(z1), jnp.asarray(z2), 0.5), np_nt_xent(z1, z2, 0.5), rtol=1e-5)
  s = np_normalize(z1) @ np_normalize(z2).T / 0.1
  ref = np.mean([np_logsumexp(s[i]) - s[i, i] for i in range(6)] + [np_logsumexp(s[:, i]) - s[i, i] for i in range(6)])
  loss, _ = losses.clip_loss(jnp.asarray(z1), jnp.asarray(z2), 0.1)
  np.testing.assert_allclose(loss, ref, rtol=1e-5)
  np.testing.assert_allclose(losses.byol_loss(jnp.asarray(z1), jnp.asarray(z2)),
                             np.sum((np_normalize(z1) - np_normalize(z2)) ** 2, -1), rtol=1e-5)
  pred, codes = rng.normal(size=(4, 3, 2, 5)), rng.normal(size=(4, 5, 5))
  total, correct = 0.0, 0
  for t in range(3):
    for k in range(2):
      logits = pred[:, t, k] @ codes[:, t + k + 1].T
      for b in range(4):
        total += np_logsumexp(logits[b]) - logits[b, b]
        correct += int(np.argmax(logits[b]) == b)
  loss, acc = losses.cpc_loss(jnp.asarray(pred), jnp.asarray(codes))
  np.testing.assert_allclose(loss, total / 24, rtol=1e-5)
  np.testing.assert_allclose(acc, correct / 24)


def test_mutual_information_bound_on_correlated_gaussians():
  """Notes L1841-1847: log N - L <= I(x; y), tighter as N grows. x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) e,
  so I = -d/2 log(1 - rho^2) = 2 nats exactly here. With the optimal critic (the log density ratio)
  the estimate rises with N towards I; with the cosine critic (any critic) it stays a lower bound."""
  d = 2
  rho = float(np.sqrt(1 - np.exp(-2.0)))
  true_mi = -d / 2 * np.log(1 - rho**2)
  np.testing.assert_allclose(true_mi, 2.0)
  rng = np.random.default_rng(0)
  estimates = []
  cosine_estimates = []
  for n in (2, 8, 32, 128):
    batches = max(20_000 // n, 200)
    x = rng.normal(size=(batches, n, d))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(batches, n, d))
    # log p(y_j | x_i) - log p(y_j) for all pairs (i, j) of a batch.
    diff = y[:, None, :, :] - rho * x[:, :, None, :]
    scores = -np.sum(diff**2, -1) / (2 * (1 - rho**2)) + np.sum(y[:, None, :, :] ** 2, -1) / 2
    pos = np.diagonal(scores, axis1=1, axis2=2).reshape(-1)
    off = ~np.eye(n, dtype=bool)
    neg = scores[:, off].reshape(batches, n, n - 1).reshape(-1, n - 1)
    loss = float(jnp.mean(losses.info_nce_from_scores(jnp.asarray(pos, jnp.float32), jnp.asarray(neg, jnp.float32))))
    estimates.append(np.log(n) - loss)
    # The cosine critic with temperature 0.5: negatives are the other rows' y (drop the positive from each row).
    q, k = jnp.asarray(x.reshape(-1, d), jnp.float32), jnp.asarray(y.reshape(-1, d), jnp.float32)
    s = jnp.einsum("bid,bjd->bij", losses.normalize(q.reshape(batches, n, d)), losses.normalize(k.reshape(batches, n, d))) / 0.5
    cl = jnp.mean(losses.info_nce_from_scores(jnp.diagonal(s, axis1=1, axis2=2).reshape(-1), s[:, off].reshape(-1, n - 1)))
    cosine_estimates.append(np.log(n) - float(cl))
  print("optimal critic:", np.round(estimates, 3), "cosine critic:", np.round(cosine_estimates, 3), "I =", true_mi)
  assert all(e <= true_mi + 0.05 for e in estimates + cosine_estimates)
  assert all(b > a for a, b in zip(estimates, estimates[1:]))
  assert estimates[-1] > true_mi - 0.3  # N = 128 is close to the truth (log 128 = 4.85 is no limit here)


def test_sharded_nt_xent_and_gradients_equal_the_global_batch(devices):
  """SimCLR's negatives come from the global batch: the loss and gradients computed on 8 devices
  (pmap with all_gather, and jit over a sharded batch) equal one device's over the same batch."""
  rng = np.random.default_rng(2)
  x1, x2 = rng.normal(size=(32, 6)).astype(np.float32), rng.normal(size=(32, 6)).astype(np.float32)
  w = jnp.asarray(rng.normal(size=(6, 4)).astype(np.float32))

  def loss_fn(w, a, b, axis_name=None):
    return losses.nt_xent(jnp.tanh(a @ w), jnp.tanh(b @ w), 0.5, axis_name)

  ref_loss, ref_grad = jax.value_and_grad(loss_fn)(w, x1, x2)

  def per_device(w, a, b):
    share, g = jax.value_and_grad(loss_fn)(w, a, b, "d")
    return jax.lax.psum(share, "d"), jax.lax.psum(g, "d")

  loss, grad = jax.pmap(per_device, axis_name="d", in_axes=(None, 0, 0))(w, x1.reshape(8, 4, 6), x2.reshape(8, 4, 6))
  np.testing.assert_allclose(loss, np.full(8, ref_loss), rtol=1e-5)
  np.testing.assert_allclose(grad, np.broadcast_to(ref_grad, (8, 6, 4)), rtol=1e-5, atol=1e-7)

  mesh = Mesh(np.array(devices), ("data",))
  rows = NamedSharding(mesh, PartitionSpec("data"))
  a, b = jax.device_put(x1, rows), jax.device_put(x2, rows)
  loss, grad = jax.jit(jax.value_and_grad(loss_fn), out_shardings=NamedSharding(mesh, PartitionSpec()))(w, a, b)
  np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
  np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
