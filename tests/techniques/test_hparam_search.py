"""The vmapped training program and the search helpers of lecture 6's hyperparameter search."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.techniques import functional_mlp as fm
from cs231n_jax.techniques import hparam_search as hs


@pytest.fixture(scope="module")
def small_data():
  return fm.digits_arrays(num_train=200)


def test_log_uniform_is_uniform_in_log_space():
  from scipy import stats

  x = hs.log_uniform(jax.random.PRNGKey(0), 2000, -3, -6)
  assert x.min() >= 1e-6 and x.max() <= 1e-3
  assert stats.kstest((np.log10(x) + 6) / 3, "uniform").pvalue > 0.01
  np.testing.assert_array_equal(x, hs.log_uniform(jax.random.PRNGKey(0), 2000, -3, -6))


@pytest.mark.slow
def test_vmapped_runs_equal_one_after_another_in_float64(small_data):
  """The same K runs, as one vmapped program, as K compiled programs and as K Python step loops."""
  spec = fm.RunSpec(hidden_dims=(16,), num_epochs=2, batch_size=50, rule_kwargs=(("rho", 0.9),))
  with jax.enable_x64(True):
    data = fm.Arrays(*(jnp.asarray(a, jnp.float64) if a.dtype == jnp.float32 else a
                       for a in (small_data.x_train, small_data.y_train, small_data.x_val, small_data.y_val)),
                     small_data.num_classes)
    lrs = jnp.array([0.1, 0.3], jnp.float64)
    regs = jnp.array([1e-3, 1e-2], jnp.float64)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    run = fm.make_train_run(spec, data)
    batched = jax.jit(jax.vmap(run))(lrs, regs, keys)
    single = jax.jit(run)
    others = [single(lrs[0], regs[0], keys[0]), single(lrs[1], regs[1], keys[1]),
              fm.make_python_loop_run(spec, data)(lrs[1], regs[1], keys[1])]
    for i, other in zip((0, 1, 1), others):
      for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(batched["params"][name][i], other["params"][name], rtol=1e-9, atol=1e-11)
      np.testing.assert_allclose(batched["loss"][i], other["loss"], rtol=1e-9)
  assert batched["params"]["W1"].dtype == jnp.float64
  loss = np.asarray(batched["loss"][0])
  assert loss[-4:].mean() < loss[:4].mean() - 0.05  # it trained


@pytest.mark.slow
def test_babysitting_early_stop_and_learning_rate_diagnosis(small_data):
  """Tiny lr: loss barely moves. Huge lr: cost > 3x initial or NaN stops the run early, and its
  parameters are frozen from then on. Good lr: loss falls by half."""
  spec = fm.RunSpec(hidden_dims=(50,), num_epochs=10, batch_size=50, rule="momentum")
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  out = fm.train_many(spec, small_data, [1e-6, 1e6, 0.1], [1e-6, 1e-6, 1e-6], keys)
  loss = out["loss"]
  initial = fm.init_mlp(jax.random.split(keys[0])[0], 64, (50,), 10)  # the run's own init
  final = jax.tree.map(lambda p: p[0], out["params"])
  full_loss = lambda p: float(fm.softmax_loss(p, small_data.x_train, small_data.y_train, 1e-6))
  assert abs(full_loss(final) - full_loss(initial)) < 1e-3
  assert not out["stopped"][0] and out["stop_step"][0] == loss.shape[1]
  assert out["stopped"][1] and out["stop_step"][1] <= 3
  assert out["stop_step"][1] < loss.shape[1]
  assert not out["stopped"][2] and loss[2, -5:].mean() < 0.5 * loss[2, :5].mean()
  assert np.all(np.isfinite(out["params"]["W1"][1]))  # frozen before it blew up
  # The update / weight ratio is logged per layer and per step, finite and positive.
  ratio = out["update_ratio"][2]
  assert ratio.shape == (loss.shape[1], 2) and np.all(ratio > 0) and np.all(np.isfinite(ratio))


def test_refine_ranges_and_edge_warnings():
  rows = [{"lr": 10.0**e, "reg": 10.0**-e, "val_accuracy": a} for e, a in
          [(-3, 0.9), (-2, 0.95), (-1, 0.5), (-4, 0.2), (-5, 0.1)]]
  ranges = hs.refine_ranges(rows, top_fraction=0.4, margin=0.0)
  assert ranges["lr"] == pytest.approx((-3, -2)) and ranges["reg"] == pytest.approx((2, 3))
  best = {"lr": 9.47e-4, "reg": 1.43e-3}  # the slide's "worrying" best at lr range (-4, -3)
  warnings = hs.edge_warnings(best, {"lr": (-4.0, -3.0), "reg": (-4.0, 0.0)})
  assert len(warnings) == 1 and "best lr" in warnings[0] and "upper edge" in warnings[0]
  assert hs.edge_warnings({"lr": 10**-3.5, "reg": 1e-2}, {"lr": (-4.0, -3.0), "reg": (-4.0, 0.0)}) == []


def test_random_search_beats_grid_with_an_unimportant_parameter():
  r = hs.random_vs_grid(jax.random.PRNGKey(0), budget_side=3, repeats=400)
  assert r["distinct_x_random"] == 9 and r["distinct_x_grid"] == 3
  assert r["mean_best_random"] > r["mean_best_grid"] + 0.1
  assert r["random_at_least_as_good"] > 0.5


def test_trial_log_line_is_the_slide_format():
  row = {"val_accuracy": 0.531, "lr": 9.471549e-04, "reg": 1.433895e-03}
  assert hs.format_trial(row, 14, 100) == "val_acc: 0.531000, lr: 9.471549e-04, reg: 1.433895e-03, (14 / 100)"


def test_bad_search_config_names_the_field():
  from cs231n_jax.config import load_config

  load = lambda name: load_config(f"techniques/{name}")
  c = load("hparam_search.py")
  c.search.coarse.trials = 1
  with pytest.raises(ConfigError, match=r"search.coarse.trials: expected an integer >= 2"):
    hs.run_hparam_search(c, "/nonexistent-not-created")
  c = load("hparam_search.py")
  c.search.coarse.lr_range = (-3.0, -3.0)
  with pytest.raises(ConfigError, match=r"search.coarse.lr_range: expected two different"):
    hs.run_hparam_search(c, "/nonexistent-not-created")
  c = load("hparam_search.py")
  c.optimizer.name = "lbfgs"
  with pytest.raises(ConfigError, match=r"optimizer.name: expected one of \('sgd', 'momentum'"):
    hs.run_hparam_search(c, "/nonexistent-not-created")
  c = load("vmap_benchmark.py")
  c.benchmark.num_models = (8, 0)
  with pytest.raises(ConfigError, match=r"benchmark.num_models: expected a positive integer, got 0"):
    hs.run_vmap_benchmark(c, "/nonexistent-not-created")
  with pytest.raises(ValueError, match="rule: expected one of"):
    fm.make_program(fm.RunSpec(rule="lbfgs"), fm.digits_arrays(num_train=10))
