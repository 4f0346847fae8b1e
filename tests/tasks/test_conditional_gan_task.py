"""The class-conditional GAN task: the label reaches both networks, the first step's losses equal the GAN losses
recomputed by hand, and the runner judges its samples per class."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import gan
from cs231n_jax.tasks import conditional_gan as C


def test_condition_concatenates_the_one_hot_label():
  x = jnp.arange(8.0).reshape(2, 2, 2, 1)
  out = np.asarray(C.condition(x, jnp.array([0, 2]), 3))
  np.testing.assert_array_equal(out, [[0, 1, 2, 3, 1, 0, 0], [4, 5, 6, 7, 0, 0, 1]])


def test_runner_trains_and_judges_every_class(tmp_path):
  config = C.base_config()
  config.model.hidden = (16,)
  config.model.latent_dim = 4
  config.eval.samples_per_class = 3
  config.train.num_steps = 4
  config.train.log_every = 2
  config.train.checkpoint_every = 4
  config.train.progress = False
  r = C.run(config, str(tmp_path))
  assert len(r["sample_accuracy_per_class"]) == 10 and 0 <= r["sample_accuracy"] <= 1
  assert r["judge_test_accuracy_on_real_digits"] > 0.9  # the judge itself reads real digits well
  assert (tmp_path / "conditional_samples.png").stat().st_size > 0
  config.model.latent_dim = 0
  with pytest.raises(ConfigError, match="model.latent_dim"):
    C.run(config, str(tmp_path / "bad"))


def test_first_step_losses_and_the_label_reaches_both_networks():
  g, d = gan.MLPGenerator(out_shape=(8, 8, 1), hidden=(8,)), gan.MLPDiscriminator(hidden=(8,))
  import optax

  task = C.conditional_gan_task(g, d, optax.sgd(0.0), optax.sgd(0.0), 4, 10)
  example = {"image": np.zeros((1, 8, 8, 1), np.float32), "label": np.zeros((1,), np.int32)}
  state = task.init(jax.random.key(0), example)
  z = jax.random.normal(jax.random.key(1), (2, 4))
  a = g.apply({"params": state["g"]}, C.condition(z, jnp.array([1, 1]), 10))
  b = g.apply({"params": state["g"]}, C.condition(z, jnp.array([2, 2]), 10))
  assert float(jnp.abs(a - b).max()) > 0  # the generator reads the label
  x = jnp.ones((2, 8, 8, 1)) * 0.3
  la = d.apply({"params": state["d"]}, C.condition(x, jnp.array([1, 1]), 10))
  lb = d.apply({"params": state["d"]}, C.condition(x, jnp.array([2, 2]), 10))
  assert float(jnp.abs(la - lb).max()) > 0  # ... and so does the discriminator
  batch = {"image": np.full((4, 8, 8, 1), 0.5, np.float32), "label": np.array([0, 1, 2, 3], np.int32)}
  key = jax.random.key(3)
  new, m = task.train_step(state, batch, key)
  kz1, _, ky = jax.random.split(key, 3)
  yf = jax.random.randint(ky, (4,), 0, 10)
  xf = g.apply({"params": state["g"]}, C.condition(jax.random.normal(kz1, (4, 4)), yf, 10))
  lr = d.apply({"params": state["d"]}, C.condition(jnp.asarray(batch["image"]), jnp.asarray(batch["label"]), 10))
  lf = d.apply({"params": state["d"]}, C.condition(xf, yf, 10))
  ref = np.mean(np.log1p(np.exp(-np.asarray(lr)))) + np.mean(np.log1p(np.exp(np.asarray(lf))))  # -log D(x) - log(1 - D(G))
  np.testing.assert_allclose(float(m["d_loss"]), ref, rtol=1e-5)
