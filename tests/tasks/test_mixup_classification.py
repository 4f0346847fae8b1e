"""The mixup task: its first step against a hand-written reference, its config checks, and a short
engine run through the runner."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import mixup_classification as M


def _config():
  c = M.base_config()
  c.model.name = "two_layer_net"
  c.model.hidden_dim = 16
  c.optimizer.name = "sgd"
  c.optimizer.learning_rate = 0.1
  c.mixup.alpha = 0.4
  c.train.batch_size = 32
  c.train.num_steps = 8
  c.train.eval_every = 8
  c.train.log_every = 4
  return c


def test_first_step_equals_a_reference_mixup_sgd_step():
  config = _config()
  task, data, dataset = M.build(config)
  state = task.init(jax.random.key(0), data.example)
  batch = jax.tree.map(jnp.asarray, next(iter(data.train)))
  key = jax.random.key(7)
  new_state, metrics = jax.jit(task.train_step)(state, batch, key)

  # Reference: the same key split, blends made by hand in NumPy, plain SGD on the λ-weighted CE.
  _, _, mix_key = jax.random.split(key, 3)
  lam_key, perm_key = jax.random.split(mix_key)
  lam = np.asarray(jax.random.beta(lam_key, 0.4, 0.4, (32,)))
  perm = np.asarray(jax.random.permutation(perm_key, 32))
  x = np.asarray(batch["image"])
  mixed = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
  y = np.asarray(batch["label"])

  def loss(params):
    logits = state.apply_fn({"params": params}, jnp.asarray(mixed), train=True)
    ce = optax.softmax_cross_entropy_with_integer_labels
    return jnp.mean(lam * ce(logits, y) + (1 - lam) * ce(logits, y[perm]))

  ref_loss, grads = jax.value_and_grad(loss)(state.params)
  np.testing.assert_allclose(float(metrics["loss"]), float(ref_loss), rtol=1e-5)
  expected = jax.tree.map(lambda p, g: p - 0.1 * g, state.params, grads)
  for a, b in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(expected)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
  assert dataset.num_classes == 10


def test_config_errors():
  c = _config()
  c.train.last_batch = "pad"
  with pytest.raises(ConfigError, match="train.last_batch"):
    M.build(c)
  c = _config()
  c.mixup.alpha = 0.0
  with pytest.raises(ConfigError, match="mixup.alpha"):
    M.build(c)


def test_runner_trains_through_the_engine(tmp_path):
  results = M.run(_config(), str(tmp_path))
  assert results["status"] == "trained" and results["steps"] == 8
  assert 0.0 <= results["test_accuracy"] <= 1.0 and np.isfinite(results["test_loss"])
  assert (tmp_path / "results.json").exists()
