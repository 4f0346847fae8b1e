"""The video models' exact claims: C3D's size, I3D inflation, ConvGRU = dense GRU, LRCN causality,
divided attention, E3's local model's order invariance, two-stream fusion."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import cs231n_jax.video  # noqa: F401
from cs231n_jax.data.clips import make_clips
from cs231n_jax.models.registry import get_model
from cs231n_jax.video import i3d, recurrent, two_stream


def count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def random_variables(module, *args, seed=0, scale=0.3):
  """``module``'s variables with the shapes ``init`` gives (by ``eval_shape``: nothing compiled), drawn
  N(0, scale^2) in NumPy (eager initialisation compiles every initializer op by op: seconds each)."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(module.init, jax.random.key(0), *args)
  return jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s.shape) * scale, s.dtype), shapes)


def test_c3d_full_size_by_eval_shape():
  """The paper's network (16x112x112x3 input, widths 64-128-256-256-512-512-512-512, pool5 to
  512x1x4x4, fc6 / fc7 4096, 487 Sports-1M classes): its parameter count by eval_shape equals the
  count written out layer by layer from the paper's figure (79,991,015 with biases; the paper prints
  none for it). The paper's one printed count, "17.5 millions" for its depth-search net (5 convs
  64-128-256-256-256, a pool after each, FC 2048, 101 classes), is met within 0.5%."""
  model = get_model("c3d")
  x = jax.ShapeDtypeStruct((1, 16, 112, 112, 3), jnp.float32)
  out, variables = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(0), x), x)
  assert out.shape == (1, 487)
  widths = [3, 64, 128, 256, 256, 512, 512, 512, 512]
  convs = sum(27 * a * b + b for a, b in zip(widths[:-1], widths[1:]))
  fcs = (512 * 1 * 4 * 4 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 487 + 487)
  assert count(variables) == convs + fcs == 79_991_015
  assert variables["params"]["fc6"]["kernel"].shape == (8192, 4096)
  search = get_model("c3d", widths=(64, 128, 256, 256, 256), pool_after=(0, 1, 2, 3, 4), fc=2048, num_classes=101)
  n = count(jax.eval_shape(search.init, jax.random.key(0), x))
  assert n == 17_444_965 and abs(n - 17.5e6) / 17.5e6 < 0.005


def test_c3d_tiny_keeps_the_layout():
  v = jax.eval_shape(get_model("c3d_tiny").init, jax.random.key(0), jnp.zeros((1, 8, 16, 16, 1)))
  kernels = [v["params"][f"conv{i}"]["conv"]["kernel"].shape for i in range(1, 9)]
  assert all(k[:3] == (3, 3, 3) for k in kernels)
  assert [k[-1] for k in kernels] == [8, 16, 32, 32, 64, 64, 64, 64]


def test_inflated_network_on_a_constant_clip_equals_the_2d_network():
  """I3D: a registered 2-D CNN (the course's three-layer convnet) inflated to 3 frames, parameters from
  inflate_params, on a clip repeating one frame gives the 2-D network's logits within 1e-5 — and a
  non-constant clip does not (the inflated filters do read time)."""
  base = get_model("three_layer_convnet", num_classes=10)
  frame = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
  p2d = random_variables(base, frame, seed=1, scale=0.1)  # logits of order 1, as at initialisation
  inflated = i3d.Inflated(base="three_layer_convnet", base_kwargs={"num_classes": 10}, time=3)
  clip = jnp.repeat(frame[:, None], 5, axis=1)
  shapes = jax.eval_shape(inflated.init, jax.random.key(2), clip)
  p3d = i3d.inflate_variables(p2d, 3)
  assert jax.tree.map(jnp.shape, p3d) == jax.tree.map(jnp.shape, shapes)
  moving = clip.at[:, 2].set(jnp.roll(frame, 2, axis=2))
  # one compiled program for the three forward passes
  want, got, got_moving = jax.jit(lambda: (base.apply(p2d, frame), inflated.apply(p3d, clip), inflated.apply(p3d, moving)))()
  assert np.abs(want).max() > 1e-2  # not a trivially zero output
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  assert np.abs(got_moving - want).max() > 1e-3


def test_inflate_kernel_repeats_and_divides():
  k = np.arange(2 * 2 * 1 * 3, dtype=np.float32).reshape(2, 2, 1, 3)
  inflated = np.asarray(i3d.inflate_kernel(k, 4))
  assert inflated.shape == (4, 2, 2, 1, 3)
  np.testing.assert_allclose(inflated.sum(axis=0), k)
  np.testing.assert_allclose(inflated[3], k / 4)


def slide_gru_numpy(xs, p):
  """The slide's GRU (dense) in NumPy: z, r, h~ = tanh(W x + U (r * h)), h = (1 - z) h + z h~."""
  sig = lambda a: 1 / (1 + np.exp(-a))
  h = np.zeros((xs.shape[0], p["Uz"].shape[0]))
  out = []
  for t in range(xs.shape[1]):
    x = xs[:, t]
    z = sig(x @ p["Wz"] + p["bz"] + h @ p["Uz"])
    r = sig(x @ p["Wr"] + p["br"] + h @ p["Ur"])
    cand = np.tanh(x @ p["W"] + p["b"] + (r * h) @ p["U"])
    h = (1 - z) * h + z * cand
    out.append(h)
  return np.stack(out, axis=1)


def test_conv_gru_with_1x1_kernels_on_a_1x1_map_is_the_dense_gru():
  """GRU-RCN's "matrix multiply => CONV": with 1x1 kernels on 1x1 maps the ConvGRU layer is the dense
  GRU of the slide (NumPy reference); and it equals flax's GRUCell once z is flipped (flax's z is the
  slide's 1 - z: negate the z weights) and the candidate's recurrent matrix is diagonal (flax resets
  after the product, r * (U h), the slide before it, U (r * h))."""
  rng = np.random.default_rng(0)
  b, t, cin, f = 3, 6, 4, 5
  xs = rng.normal(size=(b, t, cin)).astype(np.float32)
  layer = recurrent.ConvGRU(f, (1, 1))
  v = random_variables(layer, xs[:, :, None, None, :], scale=0.5)
  cell = v["params"]["cell"]
  # make the candidate's recurrent kernel diagonal (for the flax comparison) but keep it non-trivial
  cell["hidden_h"]["kernel"] = jnp.diag(jnp.asarray(rng.normal(size=f), jnp.float32))[None, None]
  k = lambda name: np.asarray(cell[name]["kernel"][0, 0], np.float64)
  bias = lambda name: np.asarray(cell[name]["bias"], np.float64)
  p = {"Wz": k("input_z"), "bz": bias("input_z"), "Uz": k("hidden_z"), "Wr": k("input_r"), "br": bias("input_r"),
       "Ur": k("hidden_r"), "W": k("input_h"), "b": bias("input_h"), "U": k("hidden_h")}
  got = np.asarray(jax.jit(layer.apply)(v, xs[:, :, None, None, :]))[:, :, 0, 0]
  np.testing.assert_allclose(got, slide_gru_numpy(xs.astype(np.float64), p), atol=1e-5)

  gru = nn.GRUCell(f)
  fp = {"params": {
      "ir": {"kernel": p["Wr"], "bias": p["br"]}, "hr": {"kernel": p["Ur"]},
      "iz": {"kernel": -p["Wz"], "bias": -p["bz"]}, "hz": {"kernel": -p["Uz"]},
      "in": {"kernel": p["W"], "bias": p["b"]}, "hn": {"kernel": p["U"], "bias": np.zeros(f)}}}
  assert jax.tree.structure(fp) == jax.tree.structure(jax.eval_shape(gru.init, jax.random.key(1), jnp.zeros((b, f)), xs[:, 0]))
  _, hs = jax.jit(lambda xs: jax.lax.scan(lambda h, x: gru.apply(fp, h, x), jnp.zeros((b, f)), xs))(xs.transpose(1, 0, 2))
  np.testing.assert_allclose(np.asarray(hs).transpose(1, 0, 2), got, atol=1e-5)


def test_lrcn_frame_predictions_are_causal():
  """Frame t's prediction depends on frames <= t only (the LSTM scan), checked with jax.jacobian."""
  model = get_model("lrcn", widths=(4,), hidden=8, lstm=8)
  x = jax.random.normal(jax.random.key(0), (1, 5, 8, 8, 1))
  v = random_variables(model, x, seed=1)

  def frame_logits(x):
    _, state = model.apply(v, x, mutable=["intermediates"])
    return state["intermediates"]["frame_logits"][0][0, :, 0]

  jac = np.asarray(jax.jit(jax.jacobian(frame_logits))(x))[:, 0]  # (T_out, T_in, H, W, C)
  influence = np.abs(jac).sum(axis=(2, 3, 4))
  assert np.all(influence[np.triu_indices(5, 1)] == 0)
  assert np.all(np.diag(influence) > 0)


def test_divided_attention_attends_over_time_then_space():
  model = get_model("video_transformer", patch_size=4, dim=16, depth=1, heads=2, mlp_dim=32)
  x = jax.ShapeDtypeStruct((2, 6, 16, 16, 1), jnp.float32)
  # shapes only (eval_shape: nothing is compiled)
  out, state = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(1), x, mutable=["params", "intermediates"]), x)
  assert out.shape == (2, 2)
  block = state["intermediates"]["block0"]
  assert block["time_attention"]["attention_weights"][0].shape == (2 * 16, 2, 6, 6)  # (B·N, heads, T, T)
  assert block["space_attention"]["attention_weights"][0].shape == (2 * 6, 2, 16, 16)  # (B·T, heads, N, N)


def test_local_model_with_temporal_average_cannot_see_the_order_of_events():
  """E3 by construction: with the events farther apart (and from the ends) than the local model's
  temporal receptive field, swapping which event comes first leaves its output unchanged."""
  cs = make_clips("order", 4, seed=0, frames=32, size=16, noise=0.0, gap=8, margin=6)
  model = get_model("local_3d_cnn", widths=(4, 4))
  assert model.receptive_field == 5
  x = cs.clips
  swapped = x.copy()
  for i, pos in enumerate(cs.positions):
    shown = pos[..., 0] >= 0  # (T, 2)
    f0, f1 = np.flatnonzero(shown[:, 0]), np.flatnonzero(shown[:, 1])
    swapped[i, f0], swapped[i, f1] = x[i, f1], x[i, f0]
  assert not np.array_equal(swapped, x)
  lrcn = get_model("lrcn", widths=(4,), hidden=8, lstm=8)
  v, lv = random_variables(model, x), random_variables(lrcn, x)
  both = np.concatenate([x, swapped])
  local_out, lrcn_out = jax.jit(lambda both: (model.apply(v, both), lrcn.apply(lv, both)))(both)  # one compile
  n = len(x)
  assert np.abs(local_out[:n]).max() > 1e-3
  np.testing.assert_allclose(local_out[n:], local_out[:n], atol=1e-5)
  assert np.abs(lrcn_out[n:] - lrcn_out[:n]).max() > 1e-4  # a recurrent model can


def test_two_stream_pieces():
  flow = np.arange(2 * 4 * 3 * 3 * 2, dtype=np.float32).reshape(2, 4, 3, 3, 2)
  stacked = np.asarray(two_stream.stack_flow(flow))
  assert stacked.shape == (2, 3, 3, 6)
  np.testing.assert_array_equal(stacked[..., 2:4], flow[:, 1])
  a, b = np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]])
  fused = np.exp(np.asarray(two_stream.fuse_average(a, b)))
  np.testing.assert_allclose(fused, (jax.nn.softmax(a) + jax.nn.softmax(b)) / 2, rtol=1e-6)
  rng = np.random.default_rng(0)
  labels = rng.integers(2, size=200)
  s1 = np.eye(2)[labels] * 0.6 + rng.uniform(size=(200, 2)) * 0.5
  s2 = rng.uniform(size=(200, 2))
  svm = two_stream.fit_svm_fusion([s1, s2], labels)
  assert (svm.predict(np.concatenate([s1, s2], 1)) == labels).mean() > 0.8


def test_conv_gru_stem_and_update_bias():
  """The per-frame stem halves the map per width (the recurrent layer runs on the smaller map) and
  ``update_bias`` is the update gate's initial bias (z = σ(-3) ≈ 0.05: the state starts mostly kept)."""
  model = get_model("conv_gru", stem=(4, 8), widths=(6,), update_bias=-3.0)
  x = jax.ShapeDtypeStruct((1, 3, 16, 16, 1), jnp.float32)
  out, v = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(0), x), x)  # shapes only
  assert out.shape == (1, 2)
  v = v["params"]
  assert v["stem0"]["kernel"].shape == (3, 3, 1, 4) and v["stem1"]["kernel"].shape == (3, 3, 4, 8)
  assert v["gru0"]["cell"]["input_z"]["kernel"].shape == (3, 3, 8, 6)
  cell = recurrent.ConvGRUCell(6, update_bias=-3.0)  # the values: one step's cell, not the scan
  h, x1 = jnp.zeros((1, 4, 4, 6)), jnp.zeros((1, 4, 4, 8))
  p = jax.jit(cell.init)(jax.random.key(0), h, x1)["params"]
  np.testing.assert_array_equal(p["input_z"]["bias"], np.full(6, -3.0, np.float32))
  np.testing.assert_array_equal(p["input_r"]["bias"], np.zeros(6, np.float32))
