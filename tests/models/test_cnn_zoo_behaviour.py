"""The CNN zoo's runtime behaviour: output contracts, bf16 mixed precision, remat / scan equal to the
plain network, stochastic depth and drop-path semantics, GoogLeNet's auxiliary heads, input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.models import analysis, get_model, googlenet, resnet
from cs231n_jax.models.fractalnet import ConvUnit, FractalBlock

# One configuration per family, at its registered input size (shapes only: jax.eval_shape).
FAMILY_REPRESENTATIVES = ["alexnet", "zfnet", "alexnet_torchvision", "vgg11", "googlenet", "googlenet_torchvision",
                          "resnet18", "se_resnet50", "preact_resnet50", "resnet20", "wrn16_4", "densenet121",
                          "densenet40_12", "squeezenet1_1", "nin_cifar", "nin_imagenet", "mobilenet", "fractalnet20"]


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_logits_are_float32_for_bf16_compute_with_float32_params(name):
  shape = get_model(name) and analysis._input_shape(name, None)
  model = get_model(name, num_classes=7, dtype=jnp.bfloat16)
  variables = analysis.init_shapes(model, shape, batch=2)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables,
                       jax.ShapeDtypeStruct((2, *shape), jnp.float32))
  assert out.shape == (2, 7) and out.dtype == jnp.float32
  assert {leaf.dtype for leaf in jax.tree.leaves(variables["params"])} == {jnp.dtype(jnp.float32)}


# These tests compare numbers, not speed: compiling without LLVM's optimisation passes is 2-3x
# faster on the CI CPU and gives every variant the same arithmetic.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def _run(fn, *args):
  """``jax.jit(fn)(*args)`` compiled with :data:`FAST_COMPILE`."""
  return jax.jit(fn).lower(*args).compile(compiler_options=FAST_COMPILE)(*args)


def _init(model, x, seed=0):
  """Initialised variables (jitted: an eager init would compile each of its operations)."""
  rngs = {"params": jax.random.PRNGKey(seed), "dropout": jax.random.PRNGKey(seed + 1)}
  return _run(lambda r, x: model.init(r, x), rngs, x)


def _init_shapes(model, x):
  return jax.eval_shape(lambda x: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, x), x)


@pytest.mark.slow
def test_bf16_compute_tracks_float32_and_keeps_float32_gradients():
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 3))
  fp32 = get_model("resnet20", stage_sizes=(1, 1, 1))
  bf16 = fp32.clone(dtype=jnp.bfloat16)
  v = _init(fp32, x)
  inter = jax.eval_shape(lambda v, x: bf16.apply(v, x, capture_intermediates=True, mutable=["intermediates"])[1],
                         v, x)
  assert inter["intermediates"]["layer2_0"]["__call__"][0][0].dtype == jnp.bfloat16  # activations in bf16
  a = _eval(fp32, v, x)
  b = _eval(bf16, v, x)
  assert b.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(a - b))) < 0.05 * float(jnp.max(jnp.abs(a))) + 0.05
  assert not np.array_equal(np.asarray(a), np.asarray(b))  # bf16 really was used

  def loss(p):
    logits, _ = bf16.apply({**v, "params": p}, x, train=True, mutable=["batch_stats"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.arange(4)).mean()

  grads = _run(jax.grad(loss), v["params"])
  assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def _train_outputs(model, variables, x, key):
  """Logits, new batch statistics and gradients of one training-mode pass (jitted: op-by-op
  execution would compile every primitive separately)."""

  def run(variables, x, key):
    def loss(p):
      logits, state = model.apply({**variables, "params": p}, x, train=True, mutable=["batch_stats"],
                                  rngs={"dropout": key})
      return jnp.mean(logits ** 2), (logits, state)

    (_, (logits, state)), grads = jax.value_and_grad(loss, has_aux=True)(variables["params"])
    return logits, state, grads

  return _run(run, variables, x, key)


def _eval(model, variables, x):
  return _run(lambda v, x: model.apply(v, x), variables, x)


# Small members of each block type (compile time grows with depth, not with width or resolution).
SCAN_CASES = [
    ("resnet20", {"stage_sizes": (3, 2), "widths": (4, 8), "stem_width": 4}),  # basic blocks, option A shortcuts
    ("preact_resnet164", {"stage_sizes": (2, 3), "widths": (2, 4)}),  # pre-activation bottlenecks
    ("resnext50_32x4d", {"stage_sizes": (1, 3), "widths": (8, 8), "groups": 2, "width_per_group": 32,
                         "stem_width": 8, "se_reduction": 4}),  # grouped bottlenecks + squeeze-excitation
]


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs", SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_scan_and_remat_equal_the_plain_network(name, kwargs):
  plain = get_model(name, **kwargs)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 3))
  v = _init(plain, x)
  key = jax.random.PRNGKey(5)
  ref_logits, ref_state, ref_grads = _train_outputs(plain, v, x, key)
  variants = [{"scan_blocks": True, "remat": True}] + ([{"remat": True}] if name == "resnet20" else [])
  for options in variants:
    variant = plain.clone(**options)
    vs = resnet.stack_blocks(v, plain.stage_sizes) if options.get("scan_blocks") else v
    # The scanned layout is exactly what the variant initialises.
    assert jax.tree.map(jnp.shape, vs) == jax.tree.map(jnp.shape, _init_shapes(variant, x))
    logits, state, grads = _train_outputs(variant, vs, x, key)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-5)
    if options.get("scan_blocks"):
      state, grads = (resnet.unstack_blocks(state, plain.stage_sizes),
                      resnet.unstack_blocks({"params": grads}, plain.stage_sizes)["params"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), state, ref_state)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=2e-5), grads, ref_grads)


def test_scan_alone_equals_the_plain_network_in_evaluation():
  plain = get_model("resnet20", stage_sizes=(1, 3), widths=(4, 8), stem_width=4)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 3))
  v = _init(plain, x)
  np.testing.assert_allclose(_eval(plain.clone(scan_blocks=True), resnet.stack_blocks(v, (1, 3)), x),
                             _eval(plain, v, x), atol=1e-6)


def test_stack_and_unstack_are_inverse():
  model = get_model("resnet20")
  v = _init(model, jnp.zeros((1, 32, 32, 3)))
  stacked = resnet.stack_blocks(v, model.stage_sizes)
  assert stacked["params"]["layer2_rest"]["conv1"]["kernel"].shape == (2, 3, 3, 32, 32)
  back = resnet.unstack_blocks(stacked, model.stage_sizes)
  assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(a, b), back, v))


@pytest.mark.slow
def test_densenet_remat_equals_plain():
  plain = get_model("densenet40_12", block_config=(2, 2), growth_rate=4)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
  v = _init(plain, x)
  key = jax.random.PRNGKey(1)
  a = _train_outputs(plain, v, x, key)
  b = _train_outputs(plain.clone(remat=True), v, x, key)
  jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, atol=1e-5), a, b)


@pytest.mark.slow
def test_stochastic_depth_is_unbiased_and_off_at_test_time():
  block = resnet.ResidualBlock(4, preact=True, use_drop_path=True, train=True)
  plain = block.clone(use_drop_path=False)
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 5, 5, 4))
  v = _run(lambda k, x: block.init(k, x, 0.5), jax.random.PRNGKey(1), x)
  full, _ = _run(lambda v, x: plain.apply(v, x, 0.5, mutable=["batch_stats"])[0], v, x)

  def sample(key):
    return block.apply(v, x, 0.5, mutable=["batch_stats"], rngs={"dropout": key})[0][0]

  samples = _run(jax.vmap(sample), jax.random.split(jax.random.PRNGKey(2), 400))
  dropped = jnp.all(samples == x[None], axis=(2, 3, 4))  # examples whose branch was dropped
  assert 0.4 < float(dropped.mean()) < 0.6  # rate 0.5, per example
  # Unbiased: the average over 400 masks is the full block (sampling error ~ 0.04 |branch|).
  branch = jnp.abs(full - x).mean()
  assert float(jnp.abs(samples.mean(0) - full).mean()) < 0.1 * float(branch)
  model = get_model("resnet20", drop_path_rate=0.5, stage_sizes=(1, 1, 1))
  xs = jax.random.normal(jax.random.PRNGKey(3), (2, 16, 16, 3))
  vm = _init(model, xs)
  np.testing.assert_array_equal(_eval(model, vm, xs), _eval(model.clone(drop_path_rate=0.0), vm, xs))


@pytest.mark.slow
def test_fractal_drop_path_local_and_global():
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 8, 8, 4))
  block = FractalBlock(columns=3, features=4, train=True, local_drop=0.0, global_column=jnp.full((6,), -1))
  v = _run(lambda r, x: block.init(r, x), {"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x)
  assert len(v["params"]) == 7  # 2^3 - 1 convs: columns of 1, 2 and 4
  apply = lambda blk, key=3: _run(lambda v, x, k: blk.apply(v, x, mutable=["batch_stats"], rngs={"dropout": k})[0],
                                  v, x, jax.random.PRNGKey(key))
  no_drop = apply(block)
  np.testing.assert_allclose(no_drop, apply(block.clone(global_column=None)), atol=1e-6)
  # Global drop-path on the shallowest column: the block is that single conv unit.
  shallow = apply(block.clone(global_column=jnp.full((6,), 2)))
  conv_unit = ConvUnit(4, train=True)
  unit = _run(lambda v, x: conv_unit.apply({c: v[c]["col2_1"] for c in v}, x, mutable=["batch_stats"])[0], v, x)
  np.testing.assert_allclose(shallow, unit, atol=1e-6)
  # Local drop-path: some joins lose inputs, so the output changes with the key.
  local = block.clone(local_drop=0.5)
  assert not np.allclose(apply(local, 3), apply(local, 4))


def test_fractalnet_is_deterministic_in_eval_and_random_in_training():
  model = get_model("fractalnet20", widths=(4, 8), columns=2)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
  v = _init(model, x)
  np.testing.assert_array_equal(_eval(model, v, x), _eval(model, v, x))
  train = jax.jit(lambda v, k: model.apply(v, x, train=True, mutable=["batch_stats"], rngs={"dropout": k})[0])
  train = train.lower(v, jax.random.PRNGKey(0)).compile(compiler_options=FAST_COMPILE)
  run = lambda k: train(v, jax.random.PRNGKey(k))
  assert not np.allclose(run(0), run(1))
  # Without drop-path, training mode still normalises with the batch's statistics (and updates them).
  plain = model.clone(drop_path=False)
  logits, state = _run(lambda v, x: plain.apply(v, x, train=True, mutable=["batch_stats"]), v, x)
  assert not np.allclose(logits, _eval(model, v, x))
  assert not np.allclose(state["batch_stats"]["block1"]["col0_1"]["unit"]["bn"]["mean"],
                         v["batch_stats"]["block1"]["col0_1"]["unit"]["bn"]["mean"])


def test_googlenet_auxiliary_heads_and_loss():
  model = get_model("googlenet_torchvision", num_classes=5, aux_logits=True)
  x = jax.ShapeDtypeStruct((2, 64, 64, 3), jnp.float32)
  v = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
  assert set(v) == {"params", "batch_stats"}  # the heads' outputs are never part of the state
  assert {"aux1", "aux2"} <= set(v["params"])
  _, state = jax.eval_shape(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats", "aux_logits"],
                                                     rngs={"dropout": jax.random.PRNGKey(1)}), v, x)
  assert state["aux_logits"]["aux1"]["logits"][0].shape == state["aux_logits"]["aux2"]["logits"][0].shape == (2, 5)
  _, eval_state = jax.eval_shape(lambda v, x: model.apply(v, x, train=False, mutable=["aux_logits"]), v, x)
  assert "aux_logits" not in eval_state  # the heads only run in training
  # The paper's loss: main + 0.3 x each auxiliary cross-entropy.
  logits, aux1, aux2 = (jax.random.normal(jax.random.PRNGKey(i), (2, 5)) for i in range(3))
  labels = jnp.array([1, 3])
  ce = lambda z: optax.softmax_cross_entropy_with_integer_labels(z, labels).mean()
  expected = ce(logits) + googlenet.AUX_WEIGHT * (ce(aux1) + ce(aux2))
  collection = {"aux1": {"logits": (aux1,)}, "aux2": {"logits": (aux2,)}}
  np.testing.assert_allclose(googlenet.googlenet_loss(logits, collection, labels), expected, rtol=1e-6)
  np.testing.assert_allclose(googlenet.googlenet_loss(logits, {}, labels), ce(logits), rtol=1e-6)


def test_alexnet_runs_on_small_images_when_resized():
  model = get_model("alexnet", num_classes=10, resize_input=67, hidden_dims=(32, 32))
  x = jnp.zeros((2, 32, 32, 3))
  out = jax.eval_shape(lambda v, x: model.apply(v, x), analysis.init_shapes(model, (32, 32, 3)), x)
  assert out.shape == (2, 10)
  assert analysis.param_count(model, (32, 32, 3)) == analysis.param_count(model, (227, 227, 3))


@pytest.mark.parametrize("name,kwargs,x_shape,message", [
    ("resnet20", {}, (32, 32, 3), r"images: Resnet20 expects NHWC images .* got shape \(32, 32, 3\)"),
    ("vgg11", {}, (1, 32, 32, 1), r"expects 3 channels \(NHWC\), got shape \(1, 32, 32, 1\)"),
    ("vgg11", {"depth": 17}, (1, 32, 32, 3), r"model.depth: expected one of \[11, 13, 16, 19\], got 17"),
    ("resnet20", {"block": "wide"}, (1, 32, 32, 3), r"model.block: expected one of"),
    ("resnet20", {"widths": (16, 32)}, (1, 32, 32, 3), r"model.widths: expected one width per stage \(3\)"),
    ("resnet18", {"groups": 2}, (1, 32, 32, 3), r"model.groups: basic blocks support only groups=1"),
    ("resnet20", {"drop_path_rate": 1.0}, (1, 32, 32, 3), r"model.drop_path_rate: expected a drop probability"),
    ("alexnet", {"dropout_rate": -0.1}, (1, 227, 227, 3), r"model.dropout_rate: expected a drop probability"),
    ("densenet40_12", {"compression": 0.0}, (1, 32, 32, 3), r"model.compression: expected a fraction in \(0, 1\]"),
    ("mobilenet", {"alpha": 0.0}, (1, 32, 32, 3), r"model.alpha: expected a positive value, got 0.0"),
    ("fractalnet20", {"dropout_rates": (0.1, 0.2)}, (1, 32, 32, 3), r"model.dropout_rates: expected 5 values"),
    ("squeezenet1_0", {"version": "2_0"}, (1, 224, 224, 3), r"model.version: expected one of \['1_0', '1_1'\]"),
])
def test_bad_arguments_raise_one_line_errors(name, kwargs, x_shape, message):
  model = get_model(name, **kwargs)
  with pytest.raises(ValueError, match=message):
    jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), jnp.zeros(x_shape))


def test_unknown_constructor_argument_is_named():
  with pytest.raises(ValueError, match=r"model.depthh: resnet50 has no such argument"):
    get_model("resnet50", depthh=3)


def test_pooling_window_larger_than_input_is_an_error():
  with pytest.raises(ValueError, match=r"pooling: window 3 is larger than the padded input 2"):
    jax.eval_shape(lambda x: get_model("alexnet").init(jax.random.PRNGKey(0), x), jnp.zeros((1, 32, 32, 3)))


def test_compile_and_step_time_of_a_train_step():
  model = get_model("resnet20", stage_sizes=(1,), widths=(4,), stem_width=4)
  t = analysis.compile_and_step_time(model, (8, 8, 3), batch=4, steps=2)
  assert set(t) == {"compile_s", "first_step_s", "step_s"}
  assert all(v > 0 for v in t.values())
