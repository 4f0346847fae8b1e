"""Activations, normalisation layers, BN folding and the regularising layers of lecture 7."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from cs231n_jax.nn import activations, norms, stochastic_layers

# ---- activations ----

def test_saturation_and_dead_gradients_at_the_slide_probe_points():
  """The slide's probes x = -10, 0, 10."""
  grad = lambda f: jax.vmap(jax.grad(f))(jnp.array([-10.0, 0.0, 10.0]))
  g = grad(jax.nn.sigmoid)
  assert g[0] < 5e-5 and g[2] < 5e-5 and float(g[1]) == pytest.approx(0.25)
  g = grad(jnp.tanh)
  assert g[0] < 1e-8 and float(g[1]) == pytest.approx(1.0)
  g = grad(jax.nn.relu)
  assert float(g[0]) == 0.0 and float(g[2]) == 1.0
  g = grad(activations.leaky_relu)
  assert float(g[0]) == pytest.approx(0.01) and float(g[2]) == 1.0
  g = grad(activations.elu)
  # Exact to float32 rounding (JAX's own expm1 derivative, expm1(x) + 1, keeps only ~3 digits here).
  assert float(g[0]) == pytest.approx(math.exp(-10.0), rel=1e-6) and float(g[2]) == 1.0


def test_sigmoid_derivative_identity_and_elu_values():
  with jax.enable_x64(True):
    x = jnp.linspace(-8, 8, 101, dtype=jnp.float64)
    s = jax.nn.sigmoid(x)
    np.testing.assert_allclose(jax.vmap(jax.grad(jax.nn.sigmoid))(x), s * (1 - s), atol=1e-12)
    np.testing.assert_allclose(activations.elu(x), np.where(x > 0, x, np.expm1(np.minimum(x, 0))), atol=1e-15)


def test_prelu_backprops_into_alpha_only_for_negative_inputs():
  layer = activations.PReLU()
  x = jnp.array([[-2.0, 3.0], [-1.0, -4.0]])
  variables = layer.init(jax.random.PRNGKey(0), x)
  np.testing.assert_allclose(variables["params"]["alpha"], [0.25, 0.25])
  np.testing.assert_allclose(layer.apply(variables, x), [[-0.5, 3.0], [-0.25, -1.0]])
  d_alpha = jax.grad(lambda v: jnp.sum(layer.apply(v, x)))(variables)["params"]["alpha"]
  np.testing.assert_allclose(d_alpha, [-3.0, -4.0])  # sum of the negative inputs per channel
  d_alpha_pos = jax.grad(lambda v: jnp.sum(layer.apply(v, jnp.abs(x))))(variables)["params"]["alpha"]
  np.testing.assert_array_equal(d_alpha_pos, 0.0)


def test_gradients_of_smooth_and_parametric_activations_in_float64():
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 4), jnp.float64) + 0.05  # away from the kink
    check_grads(activations.elu, (x,), order=2, modes=["rev"], atol=1e-7, rtol=1e-7)
    check_grads(lambda a: jnp.where(x >= 0, x, a * x).sum(), (jnp.float64(0.3),), order=1, atol=1e-8)
    maxout = activations.Maxout(3)
    variables = jax.tree.map(lambda v: v.astype(jnp.float64), maxout.init(jax.random.PRNGKey(2), x))
    check_grads(lambda v: maxout.apply(v, x).sum(), (variables,), order=1, modes=["rev"], atol=1e-7, rtol=1e-7)


def test_maxout_generalises_relu_and_doubles_parameters():
  layer = activations.Maxout(4)
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 5))
  variables = layer.init(jax.random.PRNGKey(1), x)
  kernel = variables["params"]["Dense_0"]["kernel"]
  assert kernel.shape == (5, 8)  # 2 pieces x 4 features: twice a Dense(4)
  # Zero the second piece of every unit: max(w1 x + b1, 0) = relu(w1 x + b1).
  kernel = kernel.reshape(5, 4, 2).at[:, :, 1].set(0.0).reshape(5, 8)
  bias = variables["params"]["Dense_0"]["bias"].reshape(4, 2).at[:, 1].set(0.0).reshape(8)
  v = {"params": {"Dense_0": {"kernel": kernel, "bias": bias}}}
  w1, b1 = kernel.reshape(5, 4, 2)[:, :, 0], bias.reshape(4, 2)[:, 0]
  np.testing.assert_allclose(layer.apply(v, x), jax.nn.relu(x @ w1 + b1), rtol=1e-6, atol=1e-6)


def test_dense_activation_covers_every_name_and_rejects_others():
  x = jnp.ones((2, 3))
  for name in activations.ALL_ACTIVATIONS:
    layer = activations.DenseActivation(4, name)
    out = layer.apply(layer.init(jax.random.PRNGKey(0), x), x)
    assert out.shape == (2, 4), name
  with pytest.raises(ValueError, match="activation: expected one of"):
    activations.DenseActivation(4, "swish").init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="activation: expected one of"):
    activations.get_activation("prelu")


# ---- normalisation ----

def _apply_norm(name, x, train=True, **kw):
  class Wrap(nn.Module):
    @nn.compact
    def __call__(self, x):
      return norms.make_norm(name, train, **kw)(x)

  m = Wrap()
  variables = m.init(jax.random.PRNGKey(0), x)
  out = m.apply(variables, x, mutable=["batch_stats"]) if name == "batch" else (m.apply(variables, x), None)
  return out[0]


def reference_norm(x, axes, eps=norms.NORM_EPSILON):
  mu = x.mean(axis=axes, keepdims=True)
  var = x.var(axis=axes, keepdims=True)
  return (x - mu) / np.sqrt(var + eps)


def test_norm_layers_use_the_slide_statistics_axes():
  x = np.asarray(jax.random.normal(jax.random.PRNGKey(3), (6, 5, 4, 8))) * 3 + 1
  np.testing.assert_allclose(_apply_norm("batch", x), reference_norm(x, (0, 1, 2)), atol=1e-4)
  np.testing.assert_allclose(_apply_norm("layer", x), reference_norm(x, (1, 2, 3)), atol=1e-4)
  np.testing.assert_allclose(_apply_norm("instance", x), reference_norm(x, (1, 2)), atol=1e-4)
  grouped = x.reshape(6, 5, 4, 2, 4)
  expected = reference_norm(grouped, (1, 2, 4)).reshape(x.shape)
  np.testing.assert_allclose(_apply_norm("group", x, num_groups=2), expected, atol=1e-4)
  # Group norm with G = 1 is layer norm; with G = C, instance norm.
  np.testing.assert_allclose(_apply_norm("group", x, num_groups=1), _apply_norm("layer", x), atol=1e-5)
  np.testing.assert_allclose(_apply_norm("group", x, num_groups=8), _apply_norm("instance", x), atol=1e-5)
  with pytest.raises(ValueError, match="normalization: expected one of"):
    _apply_norm("weight", x)


@pytest.mark.slow
def test_batch_norm_eval_is_independent_of_the_batch_and_running_stats_converge():
  m = norms.ConvBN(4, relu=False)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 5, 5, 3))
  variables = m.init(jax.random.PRNGKey(1), x)
  # Eval: an example's output does not depend on the rest of the batch. Train: it does.
  solo = m.apply(variables, x[:1])
  np.testing.assert_allclose(m.apply(variables, x)[:1], solo, atol=1e-6)
  train_a, _ = m.apply(variables, x, train=True, mutable=["batch_stats"])
  train_b, _ = m.apply(variables, jnp.concatenate([x[:1], 3 * x[1:] + 2]), train=True, mutable=["batch_stats"])
  assert np.max(np.abs(train_a[:1] - train_b[:1])) > 1e-2
  # A stationary stream: running statistics approach the true mean / variance of the conv output.
  params = variables["params"]
  key = jax.random.PRNGKey(2)

  def update(stats, i):
    xb = 2.0 * jax.random.normal(jax.random.fold_in(key, i), (64, 5, 5, 3)) + 1.0
    _, new = m.apply({"params": params, "batch_stats": stats}, xb, train=True, mutable=["batch_stats"])
    return new["batch_stats"], None

  stats, _ = jax.jit(lambda s: jax.lax.scan(update, s, jnp.arange(100)))(variables["batch_stats"])
  big = 2.0 * jax.random.normal(jax.random.PRNGKey(9), (4096, 5, 5, 3)) + 1.0
  z = nn.Conv(4, (3, 3), padding="SAME", use_bias=False).apply({"params": params["conv"]}, big)
  np.testing.assert_allclose(stats["bn"]["mean"], z.mean(axis=(0, 1, 2)), rtol=0.05, atol=0.05)
  np.testing.assert_allclose(stats["bn"]["var"], z.var(axis=(0, 1, 2)), rtol=0.05)


def _trained_like_conv_bn_variables(key, x, use_bias):
  """ConvBN variables with non-trivial gamma, beta and running statistics."""
  m = norms.ConvBN(6, use_bias=use_bias)
  v = m.init(key, x)
  k1, k2, k3, k4 = jax.random.split(jax.random.fold_in(key, 1), 4)
  v = jax.tree.map(lambda a: a, v)
  v["params"]["bn"]["scale"] = 1.0 + 0.3 * jax.random.normal(k1, (6,), x.dtype)
  v["params"]["bn"]["bias"] = 0.5 * jax.random.normal(k2, (6,), x.dtype)
  v["batch_stats"]["bn"]["mean"] = jax.random.normal(k3, (6,), x.dtype)
  v["batch_stats"]["bn"]["var"] = jnp.exp(jax.random.normal(k4, (6,), x.dtype))
  if use_bias:
    v["params"]["conv"]["bias"] = 0.1 * jnp.arange(6, dtype=x.dtype)
  return m, v


@pytest.mark.slow
@pytest.mark.parametrize("use_bias", [False, True])
def test_folding_batch_norm_into_the_conv_gives_equal_outputs(use_bias):
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 7, 7, 3), jnp.float64)
    m, v = _trained_like_conv_bn_variables(jax.random.PRNGKey(1), x, use_bias)
    v = jax.tree.map(lambda a: a.astype(jnp.float64), v)
    fused = norms.ConvBN(6, use_bias=use_bias, fused=True)
    folded = norms.fold_conv_bn(v)
    assert "batch_stats" not in folded and set(folded["params"]["conv"]) == {"kernel", "bias"}
    np.testing.assert_allclose(fused.apply(folded, x), m.apply(v, x), rtol=1e-12, atol=1e-12)
  x32 = x.astype(jnp.float32)
  m, v = _trained_like_conv_bn_variables(jax.random.PRNGKey(1), x32, use_bias)
  np.testing.assert_allclose(norms.ConvBN(6, fused=True).apply(norms.fold_conv_bn(v), x32), m.apply(v, x32), atol=1e-5)


def test_fold_conv_bn_in_a_nested_model_and_bad_shapes():
  class Net(nn.Module):
    fused: bool = False

    @nn.compact
    def __call__(self, x, train=False):
      x = norms.ConvBN(4, fused=self.fused, name="block1")(x, train=train)
      x = norms.ConvBN(5, fused=self.fused, name="block2")(x, train=train)
      return nn.Dense(3)(x.mean(axis=(1, 2)))

  x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 3))
  v = Net().init(jax.random.PRNGKey(1), x)
  _, stats = Net().apply(v, 3 * x + 1, train=True, mutable=["batch_stats"])
  v = {"params": v["params"], **stats}
  np.testing.assert_allclose(Net(fused=True).apply(norms.fold_conv_bn(v), x), Net().apply(v, x), atol=1e-5)
  with pytest.raises(ValueError, match=r"scale: expected shape \(4,\)"):
    norms.fold_batch_norm(jnp.ones((3, 3, 2, 4)), None, jnp.ones(3), jnp.ones(4), jnp.ones(4), jnp.ones(4))


# ---- regularisers ----

def test_dropconnect_eval_is_deterministic_and_train_expectation_matches():
  layer = stochastic_layers.DropConnectDense(5, keep_prob=0.5)
  x = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, 7)), (2, 1))  # two identical rows
  variables = layer.init(jax.random.PRNGKey(1), x)
  eval_out = layer.apply(variables, x)
  np.testing.assert_array_equal(eval_out, layer.apply(variables, x))
  np.testing.assert_allclose(eval_out, x @ variables["params"]["kernel"] + variables["params"]["bias"], rtol=1e-6)
  sample = jax.jit(lambda k: layer.apply(variables, x, train=True, rngs={"dropout": k}))
  one = sample(jax.random.PRNGKey(5))
  assert np.max(np.abs(one[0] - one[1])) > 1e-3  # a separate weight mask per example
  draws = jax.vmap(sample)(jax.random.split(jax.random.PRNGKey(6), 20000))
  spread = np.asarray(draws.std(axis=0)) / math.sqrt(20000)
  assert np.all(np.abs(np.asarray(draws.mean(axis=0)) - np.asarray(eval_out)) < 5 * spread + 1e-6)


def test_survival_probabilities_linear_decay():
  assert stochastic_layers.survival_probabilities(4) == pytest.approx((0.875, 0.75, 0.625, 0.5))
  with pytest.raises(ValueError, match="final: expected a survival probability"):
    stochastic_layers.survival_probabilities(4, final=0.0)


def test_stochastic_depth_drops_whole_branch_and_scales_at_test_time():
  block = stochastic_layers.ResidualBlock(survival_prob=0.7)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 6))
  v = block.init(jax.random.PRNGKey(1), x)
  full = stochastic_layers.ResidualBlock(survival_prob=1.0).apply(v, x)  # the branch always kept
  skip = nn.relu(x)
  test_out = block.apply(v, x)
  params = v["params"]
  f = nn.Dense(6).apply({"params": params["branch_1"]}, nn.relu(nn.Dense(6).apply({"params": params["branch_0"]}, x)))
  np.testing.assert_allclose(test_out, nn.relu(x + 0.7 * f), rtol=1e-5, atol=1e-6)
  outs = [block.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(i)}) for i in range(40)]
  kept = [bool(np.allclose(o, full, atol=1e-6)) for o in outs]
  dropped = [bool(np.allclose(o, skip, atol=1e-6)) for o in outs]
  assert all(k or d for k, d in zip(kept, dropped)) and any(kept) and any(dropped)
  with pytest.raises(ValueError, match="survival_prob: expected a probability"):
    stochastic_layers.drop_branch(None, x, 1.5, False)


@pytest.mark.parametrize("scheme", stochastic_layers.FMP_SCHEMES)
def test_fractional_cuts_have_unit_or_double_increments(scheme):
  for n_in, n_out in [(8, 5), (32, 22), (7, 4), (10, 9)]:
    for i in range(30):
      cuts = np.asarray(stochastic_layers.fractional_cuts(jax.random.PRNGKey(i), n_in, n_out, scheme))
      assert cuts[0] == 0 and cuts[-1] == n_in and len(cuts) == n_out + 1
      assert set(np.diff(cuts)) <= {1, 2}
  with pytest.raises(ValueError, match="output size: fractional pooling needs"):
    stochastic_layers.fractional_cuts(None, 9, 4)


def naive_fmp(x, rows, cols, overlapping):
  n, h, w, c = x.shape
  out = np.zeros((n, len(rows) - 1, len(cols) - 1, c), x.dtype)
  for i in range(len(rows) - 1):
    for j in range(len(cols) - 1):
      r1 = rows[i + 1] + (1 if overlapping else 0)
      c1 = cols[j + 1] + (1 if overlapping else 0)
      out[:, i, j] = x[:, rows[i]:min(r1, h), cols[j]:min(c1, w)].max(axis=(1, 2))
  return out


@pytest.mark.parametrize("overlapping", [False, True])
def test_fractional_max_pool_matches_a_naive_loop(overlapping):
  x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (2, 11, 9, 3)))
  key = jax.random.PRNGKey(4)
  out = stochastic_layers.fractional_max_pool(key, jnp.asarray(x), math.sqrt(2), overlapping, "random")
  assert out.shape == (2, 7, 6, 3)  # floor(11 / 1.414), floor(9 / 1.414)
  kr, kc = jax.random.split(key)
  rows = np.asarray(stochastic_layers.fractional_cuts(kr, 11, 7, "random"))
  cols = np.asarray(stochastic_layers.fractional_cuts(kc, 9, 6, "random"))
  np.testing.assert_array_equal(out, naive_fmp(x, rows, cols, overlapping))


def test_fractional_max_pool_ratio_two_is_ordinary_pooling_and_eval_is_fixed():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
  np.testing.assert_array_equal(
      stochastic_layers.fractional_max_pool(jax.random.PRNGKey(1), x, 2.0),
      nn.max_pool(x, (2, 2), strides=(2, 2)),
  )
  layer = stochastic_layers.FractionalMaxPool()
  a = layer.apply({}, x)
  np.testing.assert_array_equal(a, layer.apply({}, x))
  b = layer.apply({}, x, train=True, rngs={"dropout": jax.random.PRNGKey(3)})
  assert a.shape == b.shape == (2, 5, 5, 3)
  with pytest.raises(ValueError, match=r"ratio: expected a pooling ratio in \(1, 2\]"):
    stochastic_layers.fractional_max_pool(None, x, 3.0)


def test_inverted_dropout_eval_is_deterministic_and_train_expectation_equals_eval():
  """The course's keep probability p = 0.5 is Flax's rate 1 - p; inverted dropout scales by 1/p in
  training, so the mean over masks equals the (unscaled) eval output."""
  layer = nn.Dropout(rate=0.5)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 32)) + 2.0
  eval_out = layer.apply({}, x, deterministic=True)
  np.testing.assert_array_equal(eval_out, x)
  draws = jax.vmap(lambda k: layer.apply({}, x, deterministic=False, rngs={"dropout": k}))(
      jax.random.split(jax.random.PRNGKey(1), 10000))
  kept = np.mean(np.asarray(draws) != 0)
  assert abs(kept - 0.5) < 0.01
  np.testing.assert_allclose(np.asarray(draws).mean(axis=0), x, rtol=0.1, atol=0.05)
  assert abs(float(np.asarray(draws).mean()) - float(x.mean())) / float(x.mean()) < 0.01
