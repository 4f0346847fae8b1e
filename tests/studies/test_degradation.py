"""The degradation experiment's networks (the CIFAR ResNet and its plain twin) and its study runner at a toy size."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from cs231n_jax.config import apply_overrides, load_config, resolve_runner
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.plain_twin import CifarTwin
from cs231n_jax.models.registry import get_model

CONFIG = "experiments/configs/lectures/degradation.py"
AUGMENTED = "experiments/configs/lectures/degradation_augmented.py"


def _both_modes(model):
  """Eval-mode and train-mode (batch statistics) outputs in one compile."""
  return jax.jit(lambda v, x: (model.apply(v, x), model.apply(v, x, train=True, mutable=["batch_stats"])[0]))


def test_residual_twin_is_the_registry_resnet20():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
  ref = get_model("resnet20", num_classes=10)
  v = ref.init(jax.random.key(1), x)
  v2 = CifarTwin(depth=20).init(jax.random.key(1), x)
  assert jax.tree.structure(v) == jax.tree.structure(v2)  # same variables, same initialisation
  assert all(bool(jnp.all(a == b)) for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(v2)))
  a_eval, a_train = _both_modes(ref)(v, x)
  b_eval, b_train = _both_modes(CifarTwin(depth=20))(v2, x)
  np.testing.assert_allclose(np.asarray(a_eval), np.asarray(b_eval), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.asarray(a_train), np.asarray(b_train), rtol=1e-6, atol=1e-6)


def _conv(x, w, stride):
  return jax.lax.conv_general_dilated(x, w, (stride, stride), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("residual", [False, True])
def test_twin_matches_a_lax_reference(residual):
  """Depth 8 (one block per stage), eval mode with perturbed running statistics, against lax convolutions."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
  model = CifarTwin(depth=8, residual=residual, widths=(4, 8, 8))
  v = model.init(jax.random.key(1), x)
  v = jax.tree.map(lambda a: a + 0.1 * jax.random.uniform(jax.random.key(a.size), a.shape), v)  # mean/var/scale/bias != defaults

  def bn(h, p, s, res=None):
    out = (h - s["mean"]) / jnp.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"]
    out = out if res is None else out + res
    return jax.nn.relu(out)

  @jax.jit
  def reference(v, x):
    P, S = v["params"], v["batch_stats"]
    h = bn(_conv(x, P["conv1"]["kernel"], 1), P["bn1"], S["bn1"])
    for i, stride in ((1, 1), (2, 2), (3, 2)):
      name = f"layer{i}_0"
      p, s = P[name], S[name]
      y = bn(_conv(h, p["conv1"]["kernel"], stride), p["bn1"], s["bn1"])
      y = _conv(y, p["conv2"]["kernel"], 1)
      if residual:
        sc = h[:, ::stride, ::stride, :]
        extra = y.shape[-1] - sc.shape[-1]
        sc = jnp.pad(sc, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
        h = bn(y, p["bn2"], s["bn2"], res=sc)
      else:
        h = bn(y, p["bn2"], s["bn2"])
    ref = h.mean((1, 2)) @ P["fc"]["kernel"] + P["fc"]["bias"]
    return ref

  np.testing.assert_allclose(np.asarray(jax.jit(model.apply)(v, x)), np.asarray(reference(v, x)), rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="model.depth"):
    CifarTwin(depth=21).init(jax.random.key(0), x)


def test_degradation_runner_at_a_toy_size(tmp_path):
  """The zero_init variant at a toy size: four engine runs, and the zero scales reach the residual nets only."""
  config = apply_overrides(load_config(f"{AUGMENTED}:zero_init"), [
      "degradation.depths=(8,14)", "degradation.seeds=(0,)", "model.widths=(4,4,4)", "train.num_steps=4", "train.log_every=2",
      "train.eval_every=4", "train.checkpoint_every=4", "train.batch_size=16"])
  r = resolve_runner(config)(config, str(tmp_path))
  assert set(r["runs"]) == {"plain8", "resnet8", "plain14", "resnet14"}
  assert r["runs"]["plain14"]["per_seed"][0]["steps"] == [2, 4]
  assert isinstance(r["plain_deeper_has_higher_train_loss"], bool)
  assert r["runs"]["plain14"]["std_final_logged_train_loss"] == 0.0  # one seed
  for name, run in r["runs"].items():
    assert run["zero_init_residual"] is run["residual"], name
    sub = json.loads((tmp_path / f"{name}_seed0" / "config.json").read_text())
    assert sub["model"]["zero_init_residual"] is run["residual"], name  # what the engine run was given
  assert (tmp_path / "degradation.png").stat().st_size > 0
  config.degradation.depths = (8, 15)
  with pytest.raises(ConfigError, match="degradation.depths"):
    resolve_runner(config)(config, str(tmp_path / "bad"))


def test_augmented_variant_is_the_same_experiment_on_augmented_images():
  base, augmented, zero = load_config(CONFIG), load_config(f"{AUGMENTED}:standard"), load_config(f"{AUGMENTED}:zero_init")
  assert load_config(AUGMENTED).to_dict() == augmented.to_dict()  # the file's default
  assert augmented.data.augment == "crop(padding=1) | flip" and base.data.augment == ""
  assert augmented.train.num_steps == 800
  for block in ("model", "optimizer", "degradation"):  # the same nets, optimiser, depths and seeds
    assert augmented[block].to_dict() == base[block].to_dict()
  assert resolve_runner(augmented) is resolve_runner(base)
  # zero_init differs only in the residual blocks' last batch-norm scale: the same budget, optimiser (no warm-up) and data
  assert zero.model.zero_init_residual is True and "zero_init_residual" not in augmented.model
  decay = load_config(f"{AUGMENTED}:zero_init_decay")  # zero_init with the paper's two rate drops, at 1/2 and 3/4 of the budget
  assert tuple(decay.optimizer.schedule.boundaries) == (400, 600) and decay.optimizer.schedule.decay_rate == 0.1
  assert decay.optimizer.schedule.name == "piecewise" and augmented.optimizer.schedule.name == "constant"
  # zero_init_decay_long: twice the budget, the drops still at 1/2 and 3/4, validation only at the end (the final state tested)
  long = load_config(f"{AUGMENTED}:zero_init_decay_long")
  assert long.train.num_steps == 1600 and tuple(long.optimizer.schedule.boundaries) == (800, 1200)
  assert long.train.eval_every == long.train.checkpoint_every == long.train.num_steps
  long.optimizer.schedule.boundaries = decay.optimizer.schedule.boundaries
  long.train.num_steps, long.train.eval_every, long.train.checkpoint_every = 800, 200, 800
  assert long.to_dict() == decay.to_dict()
  decay.optimizer.schedule = augmented.optimizer.schedule
  assert decay.to_dict() == zero.to_dict()
  del zero.model["zero_init_residual"]
  assert zero.to_dict() == augmented.to_dict()


def test_zero_init_residual_makes_every_block_the_identity():
  """Zero last batch-norm scales: the same parameter shapes, and a 14-layer net computes exactly the stem and
  classifier alone (checked against a lax reference and against an 8-layer net with the same stem and classifier)."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
  kw = {"widths": (4, 8, 8)}
  deep = CifarTwin(depth=14, zero_init_residual=True, **kw)
  v, v_unit = deep.init(jax.random.key(1), x), CifarTwin(depth=14, **kw).init(jax.random.key(1), x)
  flat, flat_unit = traverse_util.flatten_dict(v["params"]), traverse_util.flatten_dict(v_unit["params"])
  assert {k: a.shape for k, a in flat.items()} == {k: a.shape for k, a in flat_unit.items()}  # parameter counts unchanged
  zeroed = [k for k in flat if k[-2:] == ("bn2", "scale")]
  assert len(zeroed) == 6  # one per block
  for k in flat:
    expected = jnp.zeros_like(flat[k]) if k in zeroed else flat_unit[k]
    assert bool(jnp.all(flat[k] == expected)), k
    if k in zeroed:
      assert bool(jnp.all(flat_unit[k] == 1.0)), k

  P = v["params"]
  h = jax.nn.relu(_conv(x, P["conv1"]["kernel"], 1) / jnp.sqrt(1.0 + 1e-5))  # the stem, running statistics at init
  for width in (8, 8):  # option A at each stride-2 stage: subsample, zero-pad the new channels
    h = h[:, ::2, ::2, :]
    extra = width - h.shape[-1]
    h = jnp.pad(h, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
  reference = h.mean((1, 2)) @ P["fc"]["kernel"] + P["fc"]["bias"]

  shallow = CifarTwin(depth=8, zero_init_residual=True, **kw)
  vs = shallow.init(jax.random.key(2), x)
  vs = {"params": {**vs["params"], **{k: P[k] for k in ("conv1", "bn1", "fc")}}, "batch_stats": vs["batch_stats"]}
  deep_eval, deep_train = _both_modes(deep)(v, x)
  shallow_eval, shallow_train = _both_modes(shallow)(vs, x)
  np.testing.assert_allclose(np.asarray(deep_eval), np.asarray(reference), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(deep_eval), np.asarray(shallow_eval), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.asarray(deep_train), np.asarray(shallow_train), rtol=1e-6, atol=1e-6)  # no leak from batch stats
  assert float(jnp.abs(deep_train - deep_eval).max()) > 1e-3  # train mode really uses the batch statistics
  with pytest.raises(ValueError, match="model.zero_init_residual"):
    CifarTwin(depth=8, residual=False, zero_init_residual=True).init(jax.random.key(0), x)
