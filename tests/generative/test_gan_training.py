"""GAN losses (values and the lecture's gradient argument), the jitted step with two optimizers and
k discriminator steps, WGAN clipping and the gradient penalty, networks, ring metrics, latent tools."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.generative import gan as G

D_VALUES = (0.01, 0.5, 0.99)


def logit(d):
  return math.log(d / (1 - d))


@pytest.mark.parametrize("d", D_VALUES)
def test_generator_gradients_follow_the_lecture_saturation_argument(d):
  a = jnp.array([logit(d)])
  # With D = sigmoid(a): the minimax loss log(1 - D) has d/da = -D, vanishing as D(G(z)) -> 0 ...
  g_minimax = float(jax.grad(lambda x: G.generator_loss_minimax(x))(a)[0])
  assert g_minimax == pytest.approx(-d, rel=1e-5)
  # ... while -log D has d/da = -(1 - D), close to -1 there.
  g_ns = float(jax.grad(lambda x: G.generator_loss(x))(a)[0])
  assert g_ns == pytest.approx(-(1 - d), rel=1e-5)
  # With respect to D itself: d/dD log(1 - D) = -1 / (1 - D) and d/dD -log D = -1 / D.
  dd = jnp.array([d])
  assert float(jax.grad(lambda p: jnp.log(1 - p).mean())(dd)[0]) == pytest.approx(-1 / (1 - d), rel=1e-5)
  assert float(jax.grad(lambda p: -jnp.log(p).mean())(dd)[0]) == pytest.approx(-1 / d, rel=1e-5)


def test_at_d_of_g_z_near_zero_only_the_minimax_generator_gradient_vanishes():
  a = jnp.array([logit(1e-4)])  # the discriminator confidently rejects the sample
  grads = {
      "minimax": jax.grad(G.generator_loss_minimax)(a),
      "non_saturating": jax.grad(G.generator_loss)(a),
      "lsgan": jax.grad(G.ls_generator_loss)(jnp.array([0.0])),  # LSGAN score of a rejected sample: 0
      "wgan": jax.grad(G.wasserstein_generator_loss)(jnp.array([-5.0])),
  }
  assert abs(float(grads["minimax"][0])) < 1e-3
  for name in ("non_saturating", "lsgan", "wgan"):
    assert abs(float(grads[name][0])) > 0.99, name


def test_loss_values():
  r, f = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
  sig = jax.nn.sigmoid
  want_d = -(jnp.log(sig(r)).mean() + jnp.log(1 - sig(f)).mean())
  assert float(G.discriminator_loss(r, f)) == pytest.approx(float(want_d), rel=1e-6)
  assert float(G.generator_loss(f)) == pytest.approx(float(-jnp.log(sig(f)).mean()), rel=1e-6)
  assert float(G.generator_loss_minimax(f)) == pytest.approx(float(jnp.log(1 - sig(f)).mean()), rel=1e-6)
  assert float(G.ls_discriminator_loss(r, f)) == pytest.approx(0.5 * ((1.0 + 4.0) / 2) + 0.5 * ((0.25 + 9) / 2))
  assert float(G.ls_generator_loss(f)) == pytest.approx(0.5 * ((0.25 + 16) / 2))
  assert float(G.wasserstein_critic_loss(r, f)) == pytest.approx(-1.25 - 0.5)
  assert float(G.wasserstein_generator_loss(f)) == pytest.approx(1.25)
  # Extreme logits stay finite (softplus, not log(sigmoid)).
  assert np.isfinite(float(G.discriminator_loss(jnp.array([-200.0]), jnp.array([200.0]))))


def test_gradient_penalty_of_a_linear_critic():
  w = jnp.array([3.0, 4.0])  # ||grad|| = 5 everywhere
  critic = lambda x: x.reshape(x.shape[0], -1) @ w
  real, fake = jnp.ones((4, 2)), jnp.zeros((4, 2))
  assert float(G.gradient_penalty(critic, real, fake, jax.random.key(0))) == pytest.approx(16.0, rel=1e-5)


def counting(tx):
  """``tx`` plus a count of its updates in the state (to count optimizer steps)."""
  return optax.chain(tx, optax.scale_by_schedule(lambda count: 1.0))


def make_ring_step(loss="non_saturating", d_tx=None, g_tx=None):
  gen = G.MLPGenerator(out_shape=(2,), hidden=(16,), output="linear")
  disc = G.MLPDiscriminator(hidden=(16,))
  g_tx = g_tx or counting(optax.adam(1e-3))
  d_tx = d_tx or counting(optax.adam(1e-3))
  state = G.init_gan_state(gen, disc, g_tx, d_tx, (2,), 4, seed=0)
  step = G.make_train_step(gen, disc, g_tx, d_tx, loss=loss, latent_dim=4)
  return gen, disc, state, step


def test_one_jitted_step_makes_k_discriminator_updates_and_one_generator_update():
  _, _, state, step = make_ring_step()
  data = G.ring_data(np.random.default_rng(0), 64 * 3)
  for _ in range(2):
    state, metrics = step(state, jnp.asarray(data.reshape(3, 64, 2)))  # k = 3
  assert step._cache_size() == 1  # one compiled program, reused
  assert int(state.step) == 2
  assert int(state.d_opt_state[1].count) == 6  # 2 calls x k = 3 discriminator updates
  assert int(state.g_opt_state[1].count) == 2  # one generator update per call
  assert set(metrics) == {"d_loss", "d_real", "d_fake", "g_loss"}


def test_wgan_clips_the_critic_after_every_update():
  _, _, state, step = make_ring_step("wgan", d_tx=optax.sgd(10.0))
  data = jnp.asarray(G.ring_data(np.random.default_rng(0), 2 * 32).reshape(2, 32, 2))
  state, _ = step(state, data)
  leaves = jax.tree.leaves(state.d_params)
  assert max(float(jnp.max(jnp.abs(l))) for l in leaves) == pytest.approx(G.WGAN_CLIP)


@pytest.mark.parametrize("loss", ["minimax", "lsgan", "wgan_gp"])
def test_every_loss_trains_without_nans(loss):
  _, _, state, step = make_ring_step(loss)
  data = jnp.asarray(G.ring_data(np.random.default_rng(0), 2 * 32).reshape(2, 32, 2))
  for _ in range(3):
    state, metrics = step(state, data)
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_saturation_shows_on_a_network_once_d_rejects_the_samples():
  gen = G.MLPGenerator(out_shape=(2,), hidden=(16,), output="linear")
  disc = G.MLPDiscriminator(hidden=(64, 64))
  # Make D reject G's samples: train D alone (G frozen) on the ring until mean D(G(z)) < 0.05.
  frozen = optax.set_to_zero()
  d_tx = optax.adam(1e-2)
  state = G.init_gan_state(gen, disc, frozen, d_tx, (2,), 4, seed=0)
  step = G.make_train_step(gen, disc, frozen, d_tx, latent_dim=4)
  data = G.ring_data(np.random.default_rng(0), 64 * 2000)
  key = jax.random.key(5)
  fake = G.generate(gen, state, key, 512, 4)  # G is frozen, so its samples are fixed
  mean_d = lambda s: float(jnp.mean(jax.nn.sigmoid(disc.apply({"params": s.d_params}, fake))))
  i = 0
  while mean_d(state) >= 0.05 and i < 2000:
    for _ in range(20):
      state, _ = step(state, jnp.asarray(data[i * 64:(i + 1) * 64][None]))
      i += 1
  assert mean_d(state) < 0.05, "D failed to reject the frozen generator's samples"
  norms = {l: G.generator_gradient_norm(gen, disc, state, key, 512, 4, l) for l in ("minimax", "non_saturating")}
  assert norms["non_saturating"] >= 10 * norms["minimax"]


def test_dcgan_networks_follow_the_guidelines():
  gen = G.DCGANGenerator(image_shape=(8, 8, 1), base_features=8)
  disc = G.DCGANDiscriminator(base_features=8)
  z = jnp.asarray(np.random.RandomState(0).randn(4, 6), jnp.float32)
  gv = jax.jit(lambda k: gen.init(k, z, train=False))(jax.random.key(0))
  out, _ = gen.apply(gv, z, train=True, mutable=["batch_stats"])
  assert out.shape == (4, 8, 8, 1) and float(jnp.max(jnp.abs(out))) <= 1.0  # tanh output
  names = str(jax.tree.structure(gv["params"]))
  assert "upconv0" in names and "upconv_out" in names and "bn_project" in names
  dv = jax.jit(lambda k: disc.init(k, out, train=False))(jax.random.key(1))
  logits, _ = disc.apply(dv, out, train=True, mutable=["batch_stats"])
  assert logits.shape == (4,)
  assert "bn0" not in str(jax.tree.structure(dv["params"]))  # no batch norm on the input layer
  with pytest.raises(ValueError, match="image_shape"):
    G.DCGANGenerator(image_shape=(6, 6, 1)).init(jax.random.key(0), z)


def test_ring_mode_coverage():
  rng = np.random.default_rng(0)
  real = G.ring_data(rng, 8000)
  cov = G.mode_coverage(real)
  assert cov["modes_covered"] == 8 and cov["high_quality_fraction"] > 0.98
  collapsed = G.ring_centres()[[0] * 900 + [3] * 100] + 0.01 * rng.standard_normal((1000, 2))
  cov = G.mode_coverage(collapsed)
  assert cov["modes_covered"] == 2 and cov["per_mode_fraction"][0] == pytest.approx(0.9, abs=0.01)
  assert G.mode_coverage(np.zeros((100, 2)))["high_quality_fraction"] == 0.0


def test_interpolation_endpoints_and_slerp_norm():
  z0, z1 = jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 2.0]])
  lin = G.interpolate(z0, z1, 5)
  assert lin.shape == (5, 1, 2)
  np.testing.assert_allclose(np.asarray(lin[0]), z0)
  np.testing.assert_allclose(np.asarray(lin[-1]), z1)
  sl = G.interpolate(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), 7, spherical=True)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(sl), axis=-1), 1.0, rtol=1e-5)


def test_bad_gan_inputs():
  gen = G.MLPGenerator(out_shape=(2,))
  disc = G.MLPDiscriminator()
  with pytest.raises(ValueError, match="loss: expected one of"):
    G.make_train_step(gen, disc, optax.sgd(1.0), optax.sgd(1.0), loss="hinge", latent_dim=2)
  with pytest.raises(ValueError, match="prior"):
    G.sample_latent(jax.random.key(0), 2, 3, prior="cauchy")


# ----------------------------------------------------------------------------------------------
# The adversarial task on the engine.

from cs231n_jax.tasks import adversarial  # noqa: E402


def tiny_config(arch, loss, k, **train):
  c = adversarial.base_config(arch)
  c.loss, c.k, c.latent_dim = loss, k, 4
  c.model.update({"g_hidden": (16,), "d_hidden": (16,), "base_features": 8})
  c.train.update({"batch_size": 16, "num_steps": 6, "log_every": 1, "checkpoint_every": 3, "progress": False,
                  "async_checkpoints": False, **train})
  return c


PORTED = [("mlp", "ring", "wgan_gp", 2), ("dcgan", "digits", "non_saturating", 1)]


def ported_examples(data_name):
  return G.ring_data(np.random.default_rng(0), 500) if data_name == "ring" else None


@pytest.mark.parametrize("arch,data_name,loss,k", PORTED)
def test_the_engine_runs_the_gan_update_of_a_plain_loop(tmp_path, arch, data_name, loss, k):
  from cs231n_jax.train import loop
  from cs231n_jax.train.metrics import read_jsonl
  from cs231n_jax.train.steps import engine_state, init_key

  c = tiny_config(arch, loss, k)
  c.data.name = data_name
  built = adversarial.build(c, ported_examples(data_name))
  results = loop.fit(built.task, built.data, c, tmp_path)
  assert results["status"] == "trained" and results["best_step"] == 6
  logged = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  # The reference: the task's update, jitted, on the sampler's batches with the engine's keys.
  state = built.task.init(init_key(c.seed), built.data.example)
  run_key = engine_state(None, c.seed)["rng"]
  step = jax.jit(built.task.train_step)
  x = built.examples
  for i, record in enumerate(logged):
    batch = {"real": x[np.random.default_rng([c.seed, i]).integers(len(x), size=(k, 16)).reshape(-1)]}
    state, metrics = step(state, batch, jax.random.fold_in(run_key, i))
    for name in ("loss", "d_loss", "g_loss", "d_real", "d_fake"):
      assert float(metrics[name]) == pytest.approx(record[name], rel=1e-5, abs=1e-7), (i, name)
  assert len(logged) == 6
  _, restored = adversarial.restore(c, str(tmp_path), ported_examples(data_name))
  for a, b in zip(jax.tree.leaves(adversarial.networks_of(state)), jax.tree.leaves(adversarial.networks_of(restored))):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_a_resumed_gan_run_ends_bitwise_equal_to_an_uninterrupted_one(tmp_path):
  from cs231n_jax.train import loop

  c = tiny_config("mlp", "non_saturating", 2)
  c.data.name = "ring"

  def fit(workdir, **train):
    cfg = tiny_config("mlp", "non_saturating", 2, **train)
    cfg.data.name = "ring"
    built = adversarial.build(cfg, ported_examples("ring"))
    return loop.fit(built.task, built.data, cfg, workdir)

  fit(tmp_path / "whole", checkpoint_every=2)
  fit(tmp_path / "split", checkpoint_every=2, num_steps=4)
  assert fit(tmp_path / "split", checkpoint_every=2)["status"] == "trained"
  _, a = adversarial.restore(c, str(tmp_path / "whole"), ported_examples("ring"))
  _, b = adversarial.restore(c, str(tmp_path / "split"), ported_examples("ring"))
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert int(a.step) == 6


def test_the_sampler_draws_by_position():
  x = np.arange(100, dtype=np.float32)[:, None]
  s = adversarial.ReplacementSampler(x, 8, k=3, seed=4)
  first = [next(s)["real"] for _ in range(5)]
  assert first[0].shape == (24, 1) and s.steps_per_epoch == 4
  again = adversarial.ReplacementSampler(x, 8, k=3, seed=4)
  again.restore({"position": 3})
  np.testing.assert_array_equal(next(again)["real"], first[3])
  halves = [next(adversarial.ReplacementSampler(x, 8, k=3, seed=4, process_index=i, process_count=2))["real"]
            for i in range(2)]
  np.testing.assert_array_equal(np.concatenate(halves), first[0])


@pytest.mark.parametrize("name,b1,b2", [("adam", 0.5, 0.999), ("adam", 0.0, 0.9), ("rmsprop", 0.5, 0.999)])
def test_gan_optimizers_come_from_the_factory_with_optaxs_constants(name, b1, b2):
  # The GAN numbers were measured with optax.adam / optax.rmsprop: the factory's blocks reproduce them.
  block = adversarial.optimizer_block(name, 1e-3, b1, b2)
  ours = adversarial.make_optimizer(block, 50, "optimizer.generator")
  ref = optax.adam(1e-3, b1=b1, b2=b2) if name == "adam" else optax.rmsprop(1e-3)
  rng = np.random.default_rng(0)
  params = {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)}
  a, b = dict(params), dict(params)
  sa, sb = ours.init(a), ref.init(b)
  for _ in range(30):
    g = {"w": jnp.asarray(rng.standard_normal((4, 3)) * 10.0 ** rng.uniform(-4, 1), jnp.float32)}
    ua, sa = ours.update(g, sa, a)
    ub, sb = ref.update(g, sb, b)
    a, b = optax.apply_updates(a, ua), optax.apply_updates(b, ub)
  np.testing.assert_allclose(np.asarray(a["w"]), np.asarray(b["w"]), rtol=1e-6, atol=1e-7)
  with pytest.raises(Exception, match="optimizer.generator.name: expected one of"):
    adversarial.make_optimizer(adversarial.optimizer_block("momentum"), 50, "optimizer.generator")


def test_a_packed_discriminator_judges_concatenated_groups_of_examples():
  # PacGAN (Lin et al. 2018): with pack = m the discriminator reads m consecutive examples as one input.
  # Reference: the plain discriminator, same parameters, on the pairs concatenated by NumPy.
  x = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
  packed = G.MLPDiscriminator(hidden=(8,), pack=2)
  params = packed.init(jax.random.key(0), jnp.asarray(x))
  assert params["params"]["dense0"]["kernel"].shape == (4, 8)
  out = np.asarray(packed.apply(params, jnp.asarray(x)))
  pairs = np.concatenate([x[0::2], x[1::2]], axis=1)  # [x0 x1], [x2 x3], [x4 x5]
  ref = np.asarray(G.MLPDiscriminator(hidden=(8,)).apply(params, jnp.asarray(pairs)))
  assert out.shape == (3,)
  np.testing.assert_allclose(out, ref, rtol=1e-6)
  with pytest.raises(ValueError, match="pack"):
    packed.apply(params, jnp.asarray(x[:5]))


def test_the_task_steps_with_a_packed_discriminator_and_bad_packs_are_named():
  from cs231n_jax.errors import ConfigError

  c = tiny_config("mlp", "non_saturating", 1)
  c.data.name, c.model.pack = "ring", 4
  built = adversarial.build(c, ported_examples("ring"))
  state = built.task.init(jax.random.key(0), built.data.example)
  assert state.d_params["dense0"]["kernel"].shape == (8, 16)  # 4 points of 2 coordinates per input
  new, metrics = jax.jit(built.task.train_step)(state, {"real": built.examples[:16]}, jax.random.key(1))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert not np.allclose(new.d_params["dense0"]["kernel"], state.d_params["dense0"]["kernel"])
  for field, value, loss, match in [("pack", 0, "non_saturating", "pack: expected"), ("pack", 3, "non_saturating", "multiple of 3"),
                                    ("pack", 2, "wgan_gp", "gradient penalty"), ("arch", "dcgan", "non_saturating", "MLP")]:
    bad = tiny_config("mlp", loss, 1)
    bad.model.pack = 2
    bad.model[field] = value
    with pytest.raises(ConfigError, match=match):
      adversarial.check_config(bad)
