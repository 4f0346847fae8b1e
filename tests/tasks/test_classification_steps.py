"""The classification task through the engine's three step builders on 8 simulated devices: same
numbers, no recompiles, masked padding, augmentation and auxiliary heads inside the step."""

import chex
import jax
import numpy as np
import optax
import pytest

from cs231n_jax.data.digits import load_digits
from cs231n_jax.data.pipeline import BatchIterator
from cs231n_jax.models import get_model
from cs231n_jax.tasks.classification import classification_task, parse_augment, prepare_model
from cs231n_jax.train.state import create_train_state
from cs231n_jax.train.steps import RecompileError, build_steps, engine_state, max_traces

DIGITS = load_digits("8x8x1")
BATCH = 64  # 1257 training digits: 20 batches per epoch, the last one padded (41 valid rows)
MODELS = {
    "fc_net_bn": ("fc_net", {"hidden_dims": (32, 32), "normalization": "batch"}),
    "convnet": ("three_layer_convnet", {"num_filters": 8, "filter_size": 3, "hidden_dim": 32}),
}


def compiled(kind, model, tx, donate=True, trace_guard=None, **task_kwargs):
  """The engine's steps for a classification task of ``model``."""
  return build_steps(classification_task(prepare_model(model, kind), tx, **task_kwargs), kind, donate=donate,
                     trace_guard=trace_guard)


def start(steps, state):
  """The engine's device state around a TrainState (seed 0's training key)."""
  return steps.put_state(engine_state(state, 0))


def train(kind, model_key, num_steps, trace_guard=None):
  name, kwargs = MODELS[model_key]
  model = prepare_model(get_model(name, **kwargs), kind)
  steps = compiled(kind, model, optax.sgd(0.1, momentum=0.9), trace_guard=trace_guard)
  state = create_train_state(model, optax.sgd(0.1, momentum=0.9), DIGITS.train.images[:1], seed=0)
  it = BatchIterator(DIGITS.train, BATCH, 10, seed=0)
  s = start(steps, state)
  losses = []
  for _ in range(num_steps):
    s, m = steps.train(s, steps.put_batch(next(it)))
    losses.append(float(steps.get_metrics(m)["loss"]))
  return steps.get_state(s)["task"], losses, steps, it


def flat(tree):
  return np.concatenate([np.ravel(x).astype(np.float64) for x in jax.tree.leaves(tree)])


@pytest.mark.slow
@pytest.mark.parametrize("model_key", sorted(MODELS))
def test_jit_sharded_pmap_agree_after_20_steps(devices, model_key):
  results = {kind: train(kind, model_key, 20) for kind in ("jit", "sharded", "pmap")}
  ref = results["jit"][0]
  assert int(ref.step) == 20 and results["jit"][1][-1] < results["jit"][1][0]
  for kind in ("sharded", "pmap"):
    state = results[kind][0]
    for part in ("params", "model_state", "opt_state"):
      if not jax.tree.leaves(getattr(ref, part)):
        continue  # the convnet has no batch statistics
      a, b = flat(getattr(ref, part)), flat(getattr(state, part))
      rel = np.linalg.norm(a - b) / np.linalg.norm(a)
      assert rel < 1e-5, (kind, part, rel)
    np.testing.assert_allclose(results[kind][1], results["jit"][1], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jit", "sharded", "pmap"])
def test_one_trace_over_a_whole_epoch_including_the_padded_last_batch(devices, kind):
  chex.clear_trace_counter()
  _, _, steps, it = train(kind, "convnet", 20, trace_guard=chex.assert_max_traces(n=1))
  assert it.epoch == 1 and it.position == 0  # the 20th batch was the padded one
  # Evaluation also compiles once for every batch of a split.
  from cs231n_jax.data.pipeline import eval_batches
  from cs231n_jax.train.loop import evaluate

  state, _, _, _ = train(kind, "convnet", 1)
  device_state = start(steps, state)
  task = classification_task(get_model("three_layer_convnet"), optax.sgd(0.1))
  r = evaluate(steps, device_state, eval_batches(DIGITS.val, 64, 10), task)
  assert 0.0 <= r["accuracy"] <= 1.0 and r["confusion"].sum() == len(DIGITS.val)


def test_padded_rows_do_not_count():
  """The gradient of a padded batch equals the gradient of its valid rows alone."""
  model = get_model("three_layer_convnet", num_filters=4, filter_size=3, hidden_dim=8)
  steps = compiled("jit", model, optax.sgd(1.0), donate=False)
  state = create_train_state(model, optax.sgd(1.0), DIGITS.train.images[:1], seed=0)
  images, labels = DIGITS.train.images[:8], DIGITS.train.labels[:8]
  padded = {"image": np.concatenate([images[:5], images[:3] * 100]), "label": labels,
            "mask": np.array([1, 1, 1, 1, 1, 0, 0, 0], np.float32)}
  valid = {"image": images[:5], "label": labels[:5], "mask": np.ones(5, np.float32)}
  s1, m1 = steps.train(start(steps, state), steps.put_batch(padded))
  s2, m2 = compiled("jit", model, optax.sgd(1.0), donate=False).train(start(steps, state), steps.put_batch(valid))
  np.testing.assert_allclose(flat(steps.get_state(s1)["task"].params), flat(steps.get_state(s2)["task"].params),
                             rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(m1["loss"], m2["loss"], rtol=1e-6)


def test_a_changed_shape_is_a_recompile_error():
  model = get_model("two_layer_net", hidden_dim=8)
  steps = compiled("jit", model, optax.sgd(0.1))
  state = start(steps, create_train_state(model, optax.sgd(0.1), DIGITS.train.images[:1], seed=0))
  batch = lambda n: steps.put_batch({"image": DIGITS.train.images[:n], "label": DIGITS.train.labels[:n],
                                     "mask": np.ones(n, np.float32)})
  state, _ = steps.train(state, batch(8))
  with pytest.raises(RecompileError, match="train_step was traced 2 times"):
    steps.train(state, batch(4))


def test_max_traces_counts_per_wrapped_function():
  @jax.jit
  @max_traces(1)
  def f(x):
    return x + 1

  f(np.ones(2))
  f(np.ones(2))  # cached: no new trace
  with pytest.raises(RecompileError):
    f(np.ones(3))


def test_parse_augment():
  from cs231n_jax.errors import ConfigError

  assert parse_augment("crop(padding=4, mode='edge') | flip") == (
      ("crop", (("padding", 4), ("mode", "edge"))), ("flip", ()))
  assert parse_augment("") == ()
  with pytest.raises(ConfigError, match="data.augment: unknown augmentation 'rotate'"):
    parse_augment("rotate(degrees=10)")
  with pytest.raises(ConfigError, match="data.augment: cannot read"):
    parse_augment("crop(4)")


def test_augmentation_runs_inside_the_step_and_changes_the_update():
  model = get_model("two_layer_net", hidden_dim=8)
  state = create_train_state(model, optax.sgd(0.1), DIGITS.train.images[:1], seed=0)
  batch = {"image": DIGITS.train.images[:16], "label": DIGITS.train.labels[:16], "mask": np.ones(16, np.float32)}
  plain = compiled("jit", model, optax.sgd(0.1), donate=False)
  shifted = compiled("jit", model, optax.sgd(0.1), donate=False, augment_ops=parse_augment("crop(padding=2)"))
  a, _ = plain.train(start(plain, state), plain.put_batch(batch))
  b, _ = shifted.train(start(shifted, state), shifted.put_batch(batch))
  c, _ = shifted.train(start(shifted, state), shifted.put_batch(batch))
  assert not np.allclose(flat(a["task"].params), flat(b["task"].params))
  np.testing.assert_array_equal(flat(b["task"].params), flat(c["task"].params))  # deterministic given the run's key


def test_auxiliary_classifier_losses_are_weighted_into_the_gradient():
  import flax.linen as nn

  class TwoHeads(nn.Module):
    @nn.compact
    def __call__(self, x, *, train=False):
      h = nn.relu(nn.Dense(16)(x.reshape(x.shape[0], -1)))
      if train:
        self.sow("aux_logits", "logits", nn.Dense(10, name="aux")(h))
      return nn.Dense(10, name="main")(h)

  model = TwoHeads()
  x, y = DIGITS.train.images[:8], DIGITS.train.labels[:8]
  state = create_train_state(model, optax.sgd(1.0), x[:1], seed=0)
  # init (train=False) does not create the aux head: give it parameters explicitly.
  full = model.init(jax.random.PRNGKey(0), x[:1], train=True)["params"]
  state = state.replace(params=full, opt_state=state.tx.init(full))
  batch = {"image": x, "label": y, "mask": np.ones(8, np.float32)}
  steps = compiled("jit", model, optax.sgd(1.0), donate=False, aux_loss_weight=0.3)
  new, metrics = steps.train(start(steps, state), steps.put_batch(batch))

  def expected_loss(p):
    logits, aux = model.apply({"params": p}, x, train=True, mutable=["aux_logits"])
    ce = lambda z: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
    return ce(logits) + 0.3 * ce(aux["aux_logits"]["logits"][0]), ce(logits)

  (_, main), g = jax.value_and_grad(expected_loss, has_aux=True)(full)
  np.testing.assert_allclose(metrics["loss"], main, rtol=1e-6)  # the reported loss is the main head's
  expected = jax.tree.map(lambda p, d: p - d, full, g)
  np.testing.assert_allclose(flat(steps.get_state(new)["task"].params), flat(expected), rtol=1e-5, atol=1e-6)
