"""Synchronised batch norm on 8 simulated devices: the batch statistics (and so the outputs and
gradients) of a data-parallel run equal a single-device run on the full batch, under ``jax.pmap``
(through the model's ``bn_axis_name``) and under ``jax.jit`` with a sharded batch (no axis name: the
model sees the global batch)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cs231n_jax.models import get_model

AXIS = "batch"
FAST_COMPILE = {"xla_backend_optimization_level": 0}
# A small CIFAR ResNet: batch norm in the stem, in every block and in a projection-free shortcut.
MODEL_KWARGS = {"stage_sizes": (1, 1), "widths": (4, 8), "stem_width": 4}


def _setup(devices):
  model = get_model("resnet20", **MODEL_KWARGS)
  n = len(devices)
  x = jax.random.normal(jax.random.PRNGKey(0), (2 * n, 8, 8, 3)) * 2.0 + 0.5
  y = jnp.arange(2 * n) % 10
  variables = jax.jit(model.init)(jax.random.PRNGKey(1), x)
  return model, variables, x, y


def _loss_and_stats(model, variables, x, y, axis_name=None):
  """Mean cross-entropy over the *global* batch, its gradient, and the new batch statistics."""

  def loss_fn(params):
    logits, state = model.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, (logits, state["batch_stats"])

  (loss, (logits, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
  if axis_name is not None:  # per-device means -> global means
    loss, grads = jax.lax.pmean((loss, grads), axis_name)
  return loss, logits, stats, grads


def _single_device(model, variables, x, y):
  fn = lambda v, x, y: _loss_and_stats(model, v, x, y)
  return jax.jit(fn).lower(variables, x, y).compile(compiler_options=FAST_COMPILE)(variables, x, y)


def _assert_close(a, b, atol):
  jax.tree.map(lambda p, q: np.testing.assert_allclose(np.asarray(p), np.asarray(q), atol=atol), a, b)


@pytest.mark.slow
def test_pmap_batch_norm_synchronises_over_the_axis(devices):
  model, variables, x, y = _setup(devices)
  n = len(devices)
  ref_loss, ref_logits, ref_stats, ref_grads = _single_device(model, variables, x, y)
  shard = lambda a: a.reshape(n, a.shape[0] // n, *a.shape[1:])

  def run(m):
    fn = jax.pmap(lambda v, x, y: _loss_and_stats(m, v, x, y, AXIS), axis_name=AXIS, in_axes=(None, 0, 0))
    return fn(variables, shard(x), shard(y))

  loss, logits, stats, grads = run(model.clone(bn_axis_name=AXIS))
  np.testing.assert_allclose(np.asarray(logits).reshape(ref_logits.shape), ref_logits, atol=1e-5)
  for replica in range(n):  # every replica holds the global statistics
    _assert_close(jax.tree.map(lambda s: s[replica], stats), ref_stats, atol=1e-5)
  _assert_close(jax.tree.map(lambda g: g[0], grads), ref_grads, atol=1e-5)
  np.testing.assert_allclose(loss[0], ref_loss, rtol=1e-5)

  # Without the axis name each device normalises with its own 2 examples: a different network.
  _, local_logits, local_stats, _ = run(model)
  assert not np.allclose(np.asarray(local_logits).reshape(ref_logits.shape), ref_logits, atol=1e-3)
  assert not np.allclose(local_stats["bn1"]["mean"][0], ref_stats["bn1"]["mean"], atol=1e-3)


@pytest.mark.slow
def test_sharded_jit_batch_norm_uses_the_global_batch(devices):
  model, variables, x, y = _setup(devices)
  ref_loss, ref_logits, ref_stats, ref_grads = _single_device(model, variables, x, y)
  mesh = Mesh(np.asarray(devices), ("data",))
  data, rep = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
  x_s, y_s = jax.device_put(x, data), jax.device_put(y, data)
  v_s = jax.device_put(variables, rep)
  fn = jax.jit(lambda v, x, y: _loss_and_stats(model, v, x, y), in_shardings=(rep, data, data),
               out_shardings=(rep, data, rep, rep))
  loss, logits, stats, grads = fn(v_s, x_s, y_s)
  assert len(x_s.sharding.device_set) == len(devices)  # really split over the 8 devices
  np.testing.assert_allclose(np.asarray(logits), ref_logits, atol=1e-5)
  _assert_close(stats, ref_stats, atol=1e-5)
  _assert_close(grads, ref_grads, atol=1e-5)
  np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)


@pytest.mark.parametrize("name,kwargs", [("vgg11", {"batch_norm": True}), ("googlenet_torchvision", {}),
                                         ("densenet121", {}), ("mobilenet", {}), ("fractalnet20", {}),
                                         ("resnet50", {}), ("se_resnet50", {}), ("wrn16_4", {})])
def test_every_batch_norm_family_accepts_the_pmap_axis(name, kwargs):
  # The step builders clone the model with bn_axis_name; each family must pass it to its batch norms.
  model = get_model(name, bn_axis_name=AXIS, **kwargs)
  x = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  variables = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
  assert "batch_stats" in variables
  with pytest.raises(NameError, match=AXIS):  # outside pmap the axis is unbound: it is really used
    jax.eval_shape(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"],
                                            rngs={"dropout": jax.random.PRNGKey(0)}), variables, x)
