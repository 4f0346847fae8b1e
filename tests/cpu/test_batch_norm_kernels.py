"""The CPU batch-norm kernels (cs231n_jax/cpu/kernels.cc) and the BatchNorm layer that uses them:
batch norm, optional residual add and ReLU, whose values and derivatives of every order equal the
textbook formula in float64 (and finite differences); the layer equals Flax's nn.BatchNorm in its
variables and, to float32 rounding, in training-mode outputs, gradients and running statistics;
results are bitwise reproducible; everything the kernels do not cover stays Flax's layer."""

import contextlib
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from cs231n_jax.cpu import compiling_for
from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.nn import norms


@pytest.fixture(autouse=True)
def traced_for_the_cpu():
  """The rewrites and kernels apply to functions traced for the CPU, as the engine's steps are."""
  with compiling_for("cpu"):
    yield


EPS = 1e-5


def _formula(x, scale, bias, residual, relu):
  """Batch norm as the course writes it (biased batch variance), + residual, then ReLU."""
  axes = tuple(range(x.ndim - 1))
  mean = x.mean(axes)
  var = ((x - mean) ** 2).mean(axes)
  z = (x - mean) / jnp.sqrt(var + EPS) * scale + bias + (0 if residual is None else residual)
  return (jnp.where(z > 0, z, 0) if relu else z), mean, var


def _close(a, b, rtol):
  """Equal to ``rtol`` of each leaf's largest value; a leaf that is zero (the gradient of an unused
  residual) must be exactly zero."""
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for u, v in zip(leaves_a, leaves_b):
    scale = float(jnp.max(jnp.abs(v)))
    np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=0, atol=rtol * scale)


pytestmark = pytest.mark.skipif(cpu_kernels.compiler() is None,
                                reason="no C++ compiler (CXX, c++, g++, clang++ or ziglang): the CPU kernels cannot be built")


def test_the_kernels_are_built_on_this_machine():
  assert cpu_kernels.available()


# Channels that fill whole vectors in float64 (16, 64: the vector passes) and that do not (3, 37:
# the scalar passes); one image or many; rank 2 (a dense layer's (N, D)) and 4 (NHWC); every
# combination of ReLU and residual on the vector passes, one each on the others.
OPTIONS = [(relu, residual) for relu in (False, True) for residual in (False, True)]
CASES = ([((4, 5, 6, 16), *o) for o in OPTIONS]
         + [((7, 3), True, True), ((2, 3, 3, 37), True, False), ((1, 4, 4, 64), False, True)])


@pytest.mark.parametrize("shape,relu,with_residual", CASES,
                         ids=["x".join(map(str, c[0])) + f"-relu{int(c[1])}-res{int(c[2])}" for c in CASES])
def test_values_and_derivatives_of_every_order_equal_the_formula_in_float64(shape, relu, with_residual):
  with jax.enable_x64(True):
    rng = np.random.default_rng(sum(shape))
    c = shape[-1]
    args = (jnp.asarray(3 * rng.standard_normal(shape) + 5), jnp.asarray(rng.standard_normal(c)),
            jnp.asarray(rng.standard_normal(c)), jnp.asarray(rng.standard_normal(shape)))
    w = jnp.asarray(rng.standard_normal(shape))
    ours = lambda x, s, b, r: cpu_kernels.batch_norm(x, s, b, EPS, relu, r if with_residual else None)
    ref = lambda x, s, b, r: _formula(x, s, b, r if with_residual else None, relu)
    # Every output matters: y (weighted), the mean and the variance (Flax's running averages).
    loss = lambda f: (lambda *a: jnp.sum(f(*a)[0] * w) + jnp.sum(f(*a)[1] ** 2) + jnp.sum(jnp.sin(f(*a)[2])))
    grad = lambda f: jax.grad(loss(f), argnums=(0, 1, 2, 3))
    tangents = tuple(jnp.asarray(rng.standard_normal(a.shape)) for a in args)

    jvp = lambda f: jax.jvp(f, args, tangents)
    hvp = lambda f: jax.jvp(grad(f), args, tangents)[1]
    grad_norm = lambda f: jax.grad(lambda x: sum(jnp.sum(g ** 2) for g in grad(f)(x, *args[1:])))(args[0])
    stacked = tuple(jnp.stack([a, 2 * a]) for a in args)
    per_example = lambda f: jax.vmap(grad(f))(*stacked)
    both = lambda f: (f(*args), grad(f)(*args), jvp(f), hvp(f), grad_norm(f), per_example(f))
    _close(ours(*args), ref(*args), 1e-13)  # eager: the primitive's own implementation
    for got, want, rtol in zip(jax.jit(lambda: both(ours))(), jax.jit(lambda: both(ref))(),
                               (1e-13, 1e-13, 1e-13, 1e-12, 1e-12, 1e-13)):
      _close(got, want, rtol)


def test_gradients_agree_with_finite_differences_in_float64():
  with jax.enable_x64(True):
    rng = np.random.default_rng(0)
    x, r = (jnp.asarray(rng.standard_normal((3, 4, 4, 8))) for _ in range(2))
    s, b = jnp.asarray(rng.standard_normal(8)), jnp.asarray(rng.standard_normal(8))
    w = jnp.asarray(rng.standard_normal((3, 4, 4, 8)))
    f = lambda x, s, b, r: jnp.sum(cpu_kernels.batch_norm(x, s, b, EPS, True, r)[0] * w)
    check_grads(f, (x, s, b, r), order=2, modes=("fwd", "rev"), eps=1e-6)


def test_compiled_gradient_calls_the_two_kernels():
  x, r = jnp.ones((4, 4, 4, 16)), jnp.ones((4, 4, 4, 16))
  s, b = jnp.ones(16), jnp.zeros(16)
  f = lambda x, s, b, r: jnp.sum(cpu_kernels.batch_norm(x, s, b, EPS, True, r)[0] ** 2)
  compiled = jax.jit(jax.grad(f, (0, 1, 2, 3))).lower(x, s, b, r).compile().as_text()
  assert set(re.findall(r'custom_call_target="(\w+)"', compiled)) == {"cs231n_batch_norm", "cs231n_batch_norm_grad"}


def test_variance_is_accurate_when_the_mean_dwarfs_the_spread():
  """The kernels sum x - x[0] (shifted), so float32 statistics do not cancel at mean 1e4, std 1."""
  x = 1e4 + jax.random.normal(jax.random.PRNGKey(0), (64, 8, 8, 16))
  _, mean, var = jax.jit(lambda x: cpu_kernels.batch_norm(x, jnp.ones(16), jnp.zeros(16), EPS))(x)
  x64 = np.asarray(x, np.float64)
  np.testing.assert_allclose(mean, x64.mean((0, 1, 2)), rtol=1e-7)
  np.testing.assert_allclose(var, x64.var((0, 1, 2)), rtol=1e-4)


def test_results_are_bitwise_reproducible():
  x, g = (jax.random.normal(jax.random.PRNGKey(k), (37, 8, 8, 32)) for k in range(2))
  step = jax.jit(lambda x, g: jax.vjp(lambda x, s, b: cpu_kernels.batch_norm(x, s, b, EPS, True)[0],
                                      x, jnp.ones(32), jnp.zeros(32))[1](g))
  first = [np.asarray(a) for a in step(x, g)]
  for _ in range(5):
    for a, b in zip(step(x, g), first):
      np.testing.assert_array_equal(a, b)


def test_residual_of_another_shape_is_a_clear_error():
  x = jnp.ones((2, 4, 4, 8))
  with pytest.raises(ValueError, match=r"residual: expected shape \(2, 4, 4, 8\)"):
    cpu_kernels.batch_norm(x, jnp.ones(8), jnp.zeros(8), EPS, True, jnp.ones((2, 4, 4, 4)))
  layer = norms.BatchNorm(use_running_average=False, relu=True)
  variables = layer.init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match=r"residual: expected the input's shape"):
    layer.apply(variables, x, residual=jnp.ones((2, 4, 4, 4)), mutable=["batch_stats"])


# ----------------------------------------------------------------------------- the Flax layer


def _flax_then(x, residual, relu, variables, **kwargs):
  y, updates = nn.BatchNorm(use_running_average=False, **kwargs).apply(variables, x, mutable=["batch_stats"])
  y = y if residual is None else y + residual
  return (nn.relu(y) if relu else y), updates


@pytest.mark.parametrize("relu,with_residual", OPTIONS, ids=lambda v: str(v))
def test_layer_equals_flax_batch_norm_in_training(relu, with_residual):
  keys = jax.random.split(jax.random.PRNGKey(1), 4)
  x = 2 + 3 * jax.random.normal(keys[0], (16, 8, 8, 32))
  residual = jax.random.normal(keys[1], x.shape) if with_residual else None
  ours = norms.BatchNorm(use_running_average=False, momentum=0.9, relu=relu)
  variables = ours.init(keys[2], x)
  reference = nn.BatchNorm(use_running_average=False, momentum=0.9).init(keys[2], x)
  assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, reference)
  variables = {**variables, "params": {"scale": 1 + jax.random.normal(keys[3], (32,)),
                                       "bias": jax.random.normal(keys[2], (32,))}}
  w = jax.random.normal(keys[3], x.shape)

  def loss(apply):
    def f(params, x, residual):
      y, updates = apply({**variables, "params": params}, x, residual)
      return jnp.sum(y * w), updates
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True))

  ours_apply = lambda v, x, r: ours.apply(v, x, residual=r, mutable=["batch_stats"])
  flax_apply = lambda v, x, r: _flax_then(x, r, relu, v, momentum=0.9)
  (value, updates), grads = loss(ours_apply)(variables["params"], x, residual)
  (ref_value, ref_updates), ref_grads = loss(flax_apply)(variables["params"], x, residual)
  assert "cs231n_batch_norm" in str(jax.make_jaxpr(ours_apply)(variables, x, residual))
  _close(value, ref_value, 1e-5)
  _close(updates, ref_updates, 1e-5)
  _close([g for g in grads if g is not None], [g for g in ref_grads if g is not None], 1e-5)


def test_layer_in_eval_mode_is_flaxs_bit_for_bit():
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 6, 16))
  variables = nn.BatchNorm(use_running_average=True).init(jax.random.PRNGKey(1), x)
  variables = jax.tree.map(lambda v: v + 0.5, variables)
  ours = norms.BatchNorm(use_running_average=True, relu=True).apply(variables, x)
  np.testing.assert_array_equal(ours, nn.relu(nn.BatchNorm(use_running_average=True).apply(variables, x)))


@pytest.mark.parametrize("case", ["disabled", "axis_name", "mask", "bfloat16", "channels_first", "no_scale"])
def test_what_the_kernels_do_not_cover_stays_flaxs_layer(case):
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 6, 16))
  kwargs, call_kwargs = dict(use_running_average=False), {}
  if case == "axis_name":
    kwargs["axis_name"] = "batch"
  elif case == "mask":
    call_kwargs["mask"] = jnp.ones(x.shape, bool).at[0].set(False)
  elif case == "bfloat16":
    x, kwargs["dtype"], kwargs["param_dtype"] = x.astype(jnp.bfloat16), jnp.bfloat16, jnp.bfloat16
  elif case == "channels_first":
    kwargs["axis"] = 1
  elif case == "no_scale":
    kwargs["use_scale"] = False
  ours, reference = norms.BatchNorm(relu=True, **kwargs), nn.BatchNorm(**kwargs)
  variables = reference.init(jax.random.PRNGKey(1), x, **call_kwargs)
  apply = lambda module: (lambda v, x: module.apply(v, x, mutable=["batch_stats"], **call_kwargs))
  if case == "axis_name":  # a named axis exists only under vmap / pmap
    apply = lambda module, a=apply: jax.vmap(a(module), in_axes=(None, 0), out_axes=(0, None), axis_name="batch")
    x = x[None].repeat(2, 0)
  with cpu_kernels.disabled() if case == "disabled" else contextlib.nullcontext():
    jaxpr = str(jax.make_jaxpr(apply(ours))(variables, x))
    y, updates = apply(ours)(variables, x)
  assert "cs231n_batch_norm" not in jaxpr
  ref_y, ref_updates = apply(reference)(variables, x)
  np.testing.assert_array_equal(y, nn.relu(ref_y))
  jax.tree.map(np.testing.assert_array_equal, updates, ref_updates)


def test_parameters_given_in_another_dtype_stay_flaxs_layer():
  """Variables cast to float64 for a float32 input (param_dtype still float32): Flax's layer, which
  promotes, and its gradients (the kernels take one dtype)."""
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 6, 16), jnp.float32)
    variables = nn.BatchNorm(use_running_average=False).init(jax.random.PRNGKey(1), x)
    variables = jax.tree.map(lambda a: a.astype(jnp.float64), variables)
    apply = lambda module: (lambda v, x: module.apply(v, x, mutable=["batch_stats"])[0])
    ours, reference = norms.BatchNorm(use_running_average=False, relu=True), nn.BatchNorm(use_running_average=False)
    assert "cs231n_batch_norm" not in str(jax.make_jaxpr(apply(ours))(variables, x))
    np.testing.assert_array_equal(apply(ours)(variables, x), nn.relu(apply(reference)(variables, x)))
    loss = lambda module: (lambda v, x: jnp.sum(jnp.sin(apply(module)(v, x))))
    jax.tree.map(np.testing.assert_array_equal, jax.grad(loss(ours), (0, 1))(variables, x),
                 jax.grad(lambda v, x: jnp.sum(jnp.sin(nn.relu(apply(reference)(v, x)))), (0, 1))(variables, x))
