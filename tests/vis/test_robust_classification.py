"""Adversarial training through the engine: the step equals classification's step on the PGD batch, a
short run reports robust accuracy, and bad adversarial settings are named."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cs231n_jax.config import apply_overrides
from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import classification, robust_classification
from cs231n_jax.train.steps import init_key


def small_config(**overrides):
  c = robust_classification.base_config()
  c.model = {"name": "vis_digits_cnn", "features": (8, 16)}
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-2
  c.adversarial.update({"epsilon": 0.1, "step_size": 0.05, "steps": 2, "eval_epsilon": 0.1, "eval_steps": 3})
  c.train.batch_size = 64
  c.train.num_steps = 60
  c.train.eval_every = 60
  c.train.progress = False
  return apply_overrides(c, [f"{k}={v}" for k, v in overrides.items()])


def test_the_step_is_classifications_step_on_the_pgd_batch():
  config = small_config()
  task, data, _ = robust_classification.build(config)
  state = task.init(init_key(0), data.example)
  batch = next(data.train)
  key = jax.random.PRNGKey(3)
  new_state, metrics = jax.jit(task.train_step)(state, batch, key)
  # The reference: the attack by hand, then the plain classification step with the same keys.
  attack_key, step_key = jax.random.split(key)
  a = config.adversarial
  adv = robust_classification.attack(state, batch["image"], batch["label"], attack_key, a.epsilon, a.step_size, a.steps,
                                     a.norm)
  assert float(np.abs(np.asarray(adv) - batch["image"]).max()) <= a.epsilon + 1e-6
  assert float(np.abs(np.asarray(adv) - batch["image"]).max()) > 0
  ref_state, ref_metrics = jax.jit(classification.train_step)(state, dict(batch, image=adv), step_key)
  assert float(metrics["loss"]) == pytest.approx(float(ref_metrics["loss"]), rel=1e-5)
  for x, y in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(ref_state.params)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_a_short_run_reports_robust_accuracy(tmp_path):
  results = robust_classification.run(small_config(), str(tmp_path))
  assert results["status"] == "trained"
  assert 0.0 <= results["test_robust_accuracy"] <= results["test_accuracy"]
  assert results["test_accuracy"] > 0.3  # chance is 0.1


@pytest.mark.parametrize("override,message", [
    ({"data.subtract_mean": True}, "data.subtract_mean: expected False"),
    ({"adversarial.norm": "l1"}, "adversarial.norm: expected one of"),
    ({"adversarial.adv_fraction": 1.5}, "adversarial.adv_fraction"),
])
def test_bad_settings_are_named(override, message):
  with pytest.raises(ConfigError, match=message):
    robust_classification.build(small_config(**override))
