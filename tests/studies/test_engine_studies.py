"""The study models and the engine-based studies (regularisation, ensembles, transfer, activations)."""

import jax
import ml_collections
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models import get_model
from cs231n_jax.models import technique_nets as study_models  # noqa: F401
from cs231n_jax.studies import activation_study, engine_runs, ensembles, regularizer_study, transfer
from cs231n_jax.tasks import classification
from cs231n_jax.train.steps import init_key

X = jax.random.normal(jax.random.PRNGKey(0), (6, 8, 8, 1))


def _init(model, x=X):
  return model.init({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout"])
def test_technique_mlp_activations(activation):
  m = get_model("technique_mlp", hidden_dims=(16,), activation=activation)
  v = _init(m)
  assert m.apply(v, X).shape == (6, 10)
  if activation == "maxout":
    assert v["params"]["hidden0"]["Dense_0"]["kernel"].shape == (64, 32)
  if activation == "prelu":
    np.testing.assert_allclose(v["params"]["prelu0"]["alpha"], 0.25)


def test_technique_mlp_regularisers_are_random_in_train_and_fixed_in_eval():
  for kw in ({"dropout_keep_ratio": 0.5}, {"dropconnect_keep": 0.5}, {"residual_blocks": 3, "final_survival": 0.2}):
    m = get_model("technique_mlp", hidden_dims=(32,), **kw)
    v = _init(m)
    np.testing.assert_array_equal(m.apply(v, X), m.apply(v, X))
    a = m.apply(v, X, train=True, rngs={"dropout": jax.random.PRNGKey(3)})
    outs = [m.apply(v, X, train=True, rngs={"dropout": jax.random.PRNGKey(k)}) for k in range(4, 12)]
    assert any(np.max(np.abs(a - o)) > 1e-4 for o in outs), kw
  with pytest.raises(ValueError, match="model.activation: expected one of"):
    _init(get_model("technique_mlp", activation="swish"))
  for field, value in (("dropout_keep_ratio", 0.0), ("dropconnect_keep", 1.5), ("final_survival", 0.0)):
    # dropconnect_keep 1.5 used to switch DropConnect off silently; the others failed deep inside a layer.
    with pytest.raises(ValueError, match=rf"model.{field}: expected a probability in \(0, 1\]"):
      _init(get_model("technique_mlp", hidden_dims=(8,), residual_blocks=1, **{field: value}))
  with pytest.raises(ValueError, match="model.residual_blocks: expected a number of blocks >= 0, got -1"):
    _init(get_model("technique_mlp", residual_blocks=-1))
  with pytest.raises(ValueError, match=r"model.dropout_keep_ratio: expected a probability in \(0, 1\]"):
    _init(get_model("technique_convnet", features=(4,), hidden_dim=8, dropout_keep_ratio=0.0))


@pytest.mark.slow
def test_technique_convnet_pools():
  for pool in ("max", "fractional"):
    m = get_model("technique_convnet", features=(4, 8), hidden_dim=16, pool=pool, batch_norm=True)
    v = jax.jit(m.init)({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, X)
    out, _ = jax.jit(lambda v, x: m.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(0)},
                                          mutable=["batch_stats"]))(v, X)
    assert out.shape == (6, 10)
  flat = jax.tree_util.tree_flatten_with_path(v["params"])[0]
  assert {str(p[0].key) for p, _ in flat} == {"conv1", "bn1", "conv2", "bn2", "fc", "head"}
  with pytest.raises(ValueError, match="model.pool: expected one of"):
    _init(get_model("technique_convnet", pool="avg"))


def test_merge_nested_overrides_and_variant():
  c = ml_collections.ConfigDict({"model": {"name": "m", "width": 3}, "optimizer": {"l2": 0.0}})
  merged = regularizer_study.merge(c, {"optimizer": {"l2": 1e-3}, "data": {"augment": "flip"}})
  assert merged.optimizer.l2 == 1e-3 and merged.model.width == 3 and merged.data.augment == "flip"
  assert c.optimizer.l2 == 0.0  # the base is not modified
  with pytest.raises(ConfigError, match="model.width: is a value in the base config"):
    regularizer_study.merge(c, {"model": {"width": {"x": 1}}})
  v = engine_runs.variant(c, **{"model.width": 5})
  assert v.model.width == 5 and c.model.width == 3



def _tiny_regularization_config():
  from cs231n_jax.config import load_config

  c = load_config("techniques/regularization_small_data.py")
  c.model.hidden_dims = (8,)
  c.data.train_per_class = 2
  c.train.num_steps = 4
  c.train.eval_every = 4
  c.seed = 3  # not the default data.subset_seed (0): the run must set it from the seed
  c.num_seeds = 1
  mlp = lambda **o: {"baseline": "mlp", "overrides": o}
  c.variants = ml_collections.ConfigDict({
      "mlp": {"baseline": "", "overrides": {}},
      "same_as_mlp": mlp(),  # no regulariser: every change must be exactly zero
      "mlp_l2": mlp(optimizer={"l2": 1.0}),
  })
  return c


def test_bad_regularization_config_names_the_field(tmp_path):
  c = _tiny_regularization_config()
  c.variants.mlp_l2.baseline = "plain"
  with pytest.raises(ConfigError, match="variants.mlp_l2.baseline: 'plain' is not a variant"):
    regularizer_study.run_regularization(c, str(tmp_path / "baseline"))
  c = _tiny_regularization_config()
  c.num_seeds = 0
  with pytest.raises(ConfigError, match="num_seeds: expected a positive integer, got 0"):
    regularizer_study.run_regularization(c, str(tmp_path / "seeds"))


@pytest.mark.slow
def test_regularization_variants_are_paired_with_their_baseline(tmp_path):
  """A variant and its baseline share seed, initialisation, batch order and (with
  data.train_per_class) the training subset, so a variant that changes nothing differs by exactly 0;
  a real regulariser changes the result."""
  from cs231n_jax.train import loop
  from cs231n_jax.train.checkpoint import CheckpointManager

  rows = regularizer_study.run_regularization(_tiny_regularization_config(), str(tmp_path))
  assert "val_accuracy_change" not in rows["mlp"]
  for k in regularizer_study.CHANGES:
    assert rows["same_as_mlp"][f"{k}_change"] == 0.0, k
  assert rows["mlp_l2"]["loss_gap_change"] != 0.0
  # The run recorded its seed, which also drew its training subset (data.subset_seed), and the override.
  for name, l2 in (("mlp", 0.0), ("mlp_l2", 1.0)):
    manager = CheckpointManager(tmp_path / name / "seed_3" / loop.CHECKPOINT_DIR, read_only=True)
    saved = manager.read_meta(manager.all_steps()[-1])["config"]
    manager.close()
    assert (saved["seed"], saved["data"]["subset_seed"], saved["data"]["train_per_class"]) == (3, 3, 2)
    assert saved["optimizer"]["l2"] == l2
  table = (tmp_path / "regularization.md").read_text()
  assert "| same_as_mlp | mlp |" in table and "+0.0000 +- 0.0000" in table

def test_unit_statistics_counts_never_active_units_and_saturation():
  z = [np.array([[1.0, -1.0, -2.0], [2.0, -0.5, 0.0]]), np.array([[-3.0], [-1.0]])]
  s = activation_study.unit_statistics("relu", z)
  assert s["never_positive_per_layer"] == [2, 1] and s["never_positive_fraction"] == pytest.approx(0.75)
  t = activation_study.unit_statistics("tanh", [np.array([[10.0, 0.1], [-10.0, 0.2]])])
  assert t["saturated_fraction"] == pytest.approx(0.5)


def test_hidden_preactivations_are_the_dense_outputs():
  m = get_model("technique_mlp", hidden_dims=(5, 4))
  v = _init(m)
  z = activation_study.hidden_preactivations(m, v, np.asarray(X))
  assert [a.shape for a in z] == [(6, 5), (6, 4)]
  p = v["params"]
  np.testing.assert_allclose(z[0], np.asarray(X).reshape(6, -1) @ p["hidden0"]["kernel"] + p["hidden0"]["bias"], rtol=1e-5, atol=1e-5)


def _tiny_transfer_config():
  from cs231n_jax.config import load_config

  c = load_config("techniques/transfer.py")
  c.model.features = (4, 8)
  c.model.hidden_dim = 16
  c.transfer.shots = (3,)
  c.transfer.methods = ("linear_probe", "finetune_all")
  c.transfer.pretrain_steps = 30
  c.transfer.finetune_steps = 10
  c.transfer.num_seeds = 1
  return c


def test_bad_transfer_config_names_the_field(tmp_path):
  for field, value, message in [
      ("methods", ("linear_probe", "distill"), "transfer.methods: 'distill' is not one of"),
      ("target_classes", (4, 5, 6, 7, 8), r"transfer.target_classes: must not overlap transfer.source_classes"),
      ("shots", (5, -1), r"transfer.shots: expected examples per class >= 1 \(or 0 for all\), got -1"),
      ("finetune_steps", 0, "transfer.finetune_steps: expected a positive integer, got 0"),
  ]:
    c = _tiny_transfer_config()
    c.transfer[field] = value
    with pytest.raises(ConfigError, match=message):
      transfer.run_transfer(c, str(tmp_path / field))


@pytest.mark.slow
def test_transfer_runs_are_fit_runs_that_start_from_the_pretrained_parameters(tmp_path):
  c = _tiny_transfer_config()
  r = transfer.run_transfer(c, str(tmp_path))
  row = r["table"]["3_per_class"]
  assert row["linear_probe"]["train_examples"] == 15  # 3 examples of each of 5 digits
  assert row["linear_probe"]["frozen_parameters_unchanged"] and row["finetune_all"]["frozen_parameters_unchanged"]
  assert (tmp_path / "transfer.md").read_text().count("|") > 10
  pre = engine_runs.restore(transfer.pretrain_config(c), tmp_path / "pretrain")["tree"]["best"]["params"]
  seed = c.seed + 1
  runs = {}
  for method in ("linear_probe", "finetune_all"):
    cfg = transfer.finetune_config(c, method, 3, seed, tmp_path / "pretrain")
    wd = tmp_path / "3_per_class" / method / f"seed_{seed}"
    state = engine_runs.restore(cfg, wd)["tree"]["state"]
    assert int(state["step"]) == c.transfer.finetune_steps
    runs[method] = (cfg, wd, state["params"])
  # Linear probe: every pretrained layer bit-identical, the new head trained.
  probe_cfg, probe_wd, probe = runs["linear_probe"]
  for layer in ("conv1", "conv2", "fc"):
    for name in ("kernel", "bias"):
      np.testing.assert_array_equal(probe[layer][name], pre[layer][name])
  assert not np.array_equal(probe["head"]["kernel"], pre["head"]["kernel"])
  # Fine-tune all: every layer moved, but from the pretrained weights, not from a fresh init.
  all_cfg, _, tuned = runs["finetune_all"]
  fresh_cfg = engine_runs.variant(all_cfg, **{"train.progress": False})
  task, data, _ = classification.build(fresh_cfg)
  fresh = task.init(init_key(fresh_cfg.seed), data.example).params
  assert not np.array_equal(tuned["conv1"]["kernel"], pre["conv1"]["kernel"])
  dist = lambda a, b: float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
  assert dist(tuned["conv1"]["kernel"], pre["conv1"]["kernel"]) < 0.5 * dist(tuned["conv1"]["kernel"], fresh["conv1"]["kernel"])
  # The frozen check notices a moved parameter.
  moved = jax.tree.map(np.array, probe)
  moved["fc"]["bias"] = moved["fc"]["bias"] + 1.0
  assert not transfer.frozen_unchanged(pre, moved, probe_cfg.optimizer)
  assert transfer.frozen_unchanged(pre, probe, probe_cfg.optimizer)


@pytest.mark.slow
def test_ensembles_runner_end_to_end(tmp_path):
  from cs231n_jax.config import load_config

  c = load_config("techniques/ensembles.py")
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
  # The ensemble averages probabilities: by convexity of -log, its NLL is at most the members' mean NLL.
  for split in ("val", "test"):
    assert r["independent"][split]["ensemble_nll"] <= r["independent"][split]["single_nll_mean"] + 1e-9
  # Polyak after 20 steps at 0.995 is still mostly the initialisation: far worse than the raw weights.
  assert r["polyak"]["val"]["polyak"] < r["polyak"]["val"]["raw_final"]
  c.ensemble.num_models = 1
  with pytest.raises(ConfigError, match="ensemble.num_models: expected an integer >= 2, got 1"):
    ensembles.run_ensembles(c, str(tmp_path / "bad"))
