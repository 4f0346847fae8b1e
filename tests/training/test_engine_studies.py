"""The study models and the engine-based studies (regularisation, ensembles, transfer, activations)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models import get_model
from cs231n_jax.techniques import activation_study, engine_runs, ensembles, regularization, transfer
from cs231n_jax.models import lecture7 as study_models  # noqa: F401

X = jax.random.normal(jax.random.PRNGKey(0), (6, 8, 8, 1))


def _init(model, x=X):
  return model.init({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout"])
def test_lecture7_mlp_activations(activation):
  m = get_model("lecture7_mlp", hidden_dims=(16,), activation=activation)
  v = _init(m)
  assert m.apply(v, X).shape == (6, 10)
  if activation == "maxout":
    assert v["params"]["hidden0"]["Dense_0"]["kernel"].shape == (64, 32)
  if activation == "prelu":
    np.testing.assert_allclose(v["params"]["prelu0"]["alpha"], 0.25)


def test_lecture7_mlp_regularisers_are_random_in_train_and_fixed_in_eval():
  for kw in ({"dropout_keep_ratio": 0.5}, {"dropconnect_keep": 0.5}, {"residual_blocks": 3, "final_survival": 0.2}):
    m = get_model("lecture7_mlp", hidden_dims=(32,), **kw)
    v = _init(m)
    np.testing.assert_array_equal(m.apply(v, X), m.apply(v, X))
    a = m.apply(v, X, train=True, rngs={"dropout": jax.random.PRNGKey(3)})
    outs = [m.apply(v, X, train=True, rngs={"dropout": jax.random.PRNGKey(k)}) for k in range(4, 12)]
    assert any(np.max(np.abs(a - o)) > 1e-4 for o in outs), kw
  with pytest.raises(ValueError, match="model.activation: expected one of"):
    _init(get_model("lecture7_mlp", activation="swish"))
  with pytest.raises(ValueError, match="model.dropout_keep_ratio"):
    _init(get_model("lecture7_mlp", dropout_keep_ratio=0.0))


@pytest.mark.slow
def test_lecture7_convnet_pools():
  for pool in ("max", "fractional"):
    m = get_model("lecture7_convnet", features=(4, 8), hidden_dim=16, pool=pool, batch_norm=True)
    v = jax.jit(m.init)({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, X)
    out, _ = jax.jit(lambda v, x: m.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(0)},
                                          mutable=["batch_stats"]))(v, X)
    assert out.shape == (6, 10)
  flat = jax.tree_util.tree_flatten_with_path(v["params"])[0]
  assert {str(p[0].key) for p, _ in flat} == {"conv1", "bn1", "conv2", "bn2", "fc", "head"}
  with pytest.raises(ValueError, match="model.pool: expected one of"):
    _init(get_model("lecture7_convnet", pool="avg"))


def test_merge_nested_overrides_and_variant():
  c = ml_collections.ConfigDict({"model": {"name": "m", "width": 3}, "optimizer": {"l2": 0.0}})
  merged = regularization.merge(c, {"optimizer": {"l2": 1e-3}, "data": {"augment": "flip"}})
  assert merged.optimizer.l2 == 1e-3 and merged.model.width == 3 and merged.data.augment == "flip"
  assert c.optimizer.l2 == 0.0  # the base is not modified
  with pytest.raises(ConfigError, match="model.width: is a value in the base config"):
    regularization.merge(c, {"model": {"width": {"x": 1}}})
  v = engine_runs.variant(c, **{"model.width": 5})
  assert v.model.width == 5 and c.model.width == 3


def test_unit_statistics_counts_never_active_units_and_saturation():
  z = [np.array([[1.0, -1.0, -2.0], [2.0, -0.5, 0.0]]), np.array([[-3.0], [-1.0]])]
  s = activation_study.unit_statistics("relu", z)
  assert s["never_positive_per_layer"] == [2, 1] and s["never_positive_fraction"] == pytest.approx(0.75)
  t = activation_study.unit_statistics("tanh", [np.array([[10.0, 0.1], [-10.0, 0.2]])])
  assert t["saturated_fraction"] == pytest.approx(0.5)


def test_hidden_preactivations_are_the_dense_outputs():
  m = get_model("lecture7_mlp", hidden_dims=(5, 4))
  v = _init(m)
  z = activation_study.hidden_preactivations(m, v, np.asarray(X))
  assert [a.shape for a in z] == [(6, 5), (6, 4)]
  p = v["params"]
  np.testing.assert_allclose(z[0], np.asarray(X).reshape(6, -1) @ p["hidden0"]["kernel"] + p["hidden0"]["bias"], rtol=1e-5, atol=1e-5)


def test_class_subset_relabels_and_draws_k_shots():
  from cs231n_jax.data.digits import load_digits

  ds = load_digits()
  sub = transfer.class_subset(ds.train, (5, 6, 7, 8, 9), per_class=4, seed=1)
  assert len(sub) == 20 and sorted(set(sub.labels.tolist())) == [0, 1, 2, 3, 4]
  assert np.bincount(sub.labels).tolist() == [4] * 5
  again = transfer.class_subset(ds.train, (5, 6, 7, 8, 9), per_class=4, seed=1)
  np.testing.assert_array_equal(sub.images, again.images)
  full = transfer.subset_dataset(ds, (5, 6, 7, 8, 9), None, 0)
  assert full.num_classes == 5 and len(full.test) == int(np.sum(ds.test.labels >= 5))
  with pytest.raises(ConfigError, match="shots: 1000 examples per class requested"):
    transfer.class_subset(ds.train, (5,), per_class=1000)


@pytest.mark.slow
def test_linear_probe_keeps_pretrained_layers_bit_identical():
  from cs231n_jax.config import load_config
  from cs231n_jax.data.digits import load_digits

  c = load_config("training/transfer.py")
  c.model.features = (4, 8)
  c.model.hidden_dim = 16
  ds = load_digits()
  source = transfer.subset_dataset(ds, (0, 1, 2, 3, 4), None, 0)
  pre = transfer.train_on_dataset(c, source, 30, 0)
  assert pre["test_accuracy"] > 0.5
  target = transfer.subset_dataset(ds, (5, 6, 7, 8, 9), 5, 1)
  c.optimizer.trainable = ("^head/",)
  r = transfer.train_on_dataset(c, target, 20, 1, pre["params"])
  for layer in ("conv1", "conv2", "fc"):
    for name in ("kernel", "bias"):
      np.testing.assert_array_equal(r["params"][layer][name], pre["params"][layer][name])
  assert not np.array_equal(r["params"]["head"]["kernel"], r["start_params"]["head"]["kernel"])
  assert transfer.frozen_unchanged(r["start_params"], r["params"], ("^head/",))
  r["params"]["fc"]["bias"] = r["params"]["fc"]["bias"] + 1.0
  assert not transfer.frozen_unchanged(r["start_params"], r["params"], ("^head/",))


@pytest.mark.slow
def test_ensembles_runner_end_to_end(tmp_path):
  from cs231n_jax.config import load_config

  c = load_config("training/ensembles.py")
  c.model.hidden_dims = (16,)
  c.train.num_epochs = 1
  c.ensemble.num_models = 2
  c.snapshot.num_cycles = 2
  c.snapshot.cycle_steps = 5
  r = ensembles.run_ensembles(c, str(tmp_path))
  assert r["independent"]["num_models"] == 2
  assert r["snapshot"]["snapshot_steps"] == [5, 10]
  for part in ("independent", "snapshot", "polyak"):
    for split in ("val", "test"):
      assert all(0.0 <= v <= 1.0 for k, v in r[part][split].items() if "accuracy" in k or k in ("ensemble", "polyak", "raw_final"))
  # Polyak after 20 steps at 0.995 is still mostly the initialisation: far worse than the raw weights.
  assert r["polyak"]["val"]["polyak"] < r["polyak"]["val"]["raw_final"]
  c.ensemble.num_models = 1
  with pytest.raises(ConfigError, match="ensemble.num_models: expected at least 2"):
    ensembles.run_ensembles(c, str(tmp_path / "bad"))
