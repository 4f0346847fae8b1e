"""Spatio-temporal convolution and the fusion models' first layers against NumPy references."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cs231n_jax.video  # noqa: F401  (registers the video family)
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model, list_models
from cs231n_jax.video.layers import SpatioTemporalConv, pool3d


def conv3d_reference(x, w, b, stride=(1, 1, 1)):
  """Naive VALID 3-D cross-correlation in NumPy: x (B, T, H, W, C), w (kt, kh, kw, C, F)."""
  kt, kh, kw, _, f = w.shape
  bsz, t, h, wd, _ = x.shape
  st, sh, sw = stride
  out = np.zeros((bsz, (t - kt) // st + 1, (h - kh) // sh + 1, (wd - kw) // sw + 1, f))
  for i in range(out.shape[1]):
    for j in range(out.shape[2]):
      for k in range(out.shape[3]):
        patch = x[:, i * st:i * st + kt, j * sh:j * sh + kh, k * sw:k * sw + kw]
        out[:, i, j, k] = np.einsum("btyxc,tyxcf->bf", patch, w)
  return out + b


def random_variables(module, x, seed):
  """``module``'s variables with ``init``'s shapes (by ``eval_shape``: nothing compiled), drawn N(0, 1)
  in NumPy: eager initialisation compiles every initializer op by op."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), jax.eval_shape(module.init, jax.random.key(0), x))


def conv2d_reference(x, w, b):
  """Naive VALID 2-D cross-correlation: x (B, H, W, C), w (kh, kw, C, F)."""
  return conv3d_reference(x[:, None], w[None], b)[:, 0]


def test_3d_conv_matches_numpy():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 7, 6, 3)).astype(np.float32)
  layer = SpatioTemporalConv(4, (3, 3, 2), strides=(1, 2, 1), padding="VALID", temporal_padding="VALID")
  params = random_variables(layer, x, 10)
  w, b = (np.asarray(params["params"]["conv"][k]) for k in ("kernel", "bias"))
  np.testing.assert_allclose(jax.jit(layer.apply)(params, x), conv3d_reference(x, w, b, (1, 2, 1)), rtol=1e-4, atol=1e-4)


def test_temporal_extent_one_is_a_per_frame_2d_conv():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2, 4, 6, 6, 3)).astype(np.float32)
  layer = SpatioTemporalConv(5, (1, 3, 3), padding="VALID")
  params = random_variables(layer, x, 11)
  w, b = (np.asarray(params["params"]["conv"][k]) for k in ("kernel", "bias"))
  per_frame = np.stack([conv2d_reference(x[:, t], w[0], b) for t in range(4)], axis=1)
  np.testing.assert_allclose(jax.jit(layer.apply)(params, x), per_frame, rtol=1e-4, atol=1e-4)


def test_early_fusion_2d_conv_over_stacked_channels_is_a_clip_spanning_3d_conv():
  """A 2-D conv over T·C stacked channels (channel index t·C + c) equals a 3-D conv whose kernel
  spans the T frames with VALID temporal padding, with the kernel reshaped (T, kh, kw, C, F) ->
  (kh, kw, T·C, F)."""
  rng = np.random.default_rng(2)
  t, c = 5, 3
  x = rng.normal(size=(2, t, 7, 7, c)).astype(np.float32)
  layer = SpatioTemporalConv(4, (t, 3, 3), padding="VALID", temporal_padding="VALID")
  params = random_variables(layer, x, 12)
  w, b = (np.asarray(params["params"]["conv"][k]) for k in ("kernel", "bias"))
  stacked = x.transpose(0, 2, 3, 1, 4).reshape(2, 7, 7, t * c)
  w2d = w.transpose(1, 2, 0, 3, 4).reshape(3, 3, t * c, 4)
  out3d = jax.jit(layer.apply)(params, x)
  assert out3d.shape == (2, 1, 5, 5, 4)
  np.testing.assert_allclose(out3d[:, 0], conv2d_reference(stacked, w2d, b), rtol=1e-4, atol=1e-4)
  # and the early-fusion model's first layer is that layer
  model = get_model("early_fusion", widths=(4, 4), hidden=8)
  v = jax.eval_shape(model.init, jax.random.key(0), x)
  assert v["params"]["fusion"]["conv"]["kernel"].shape == (t, 3, 3, c, 4)


def test_the_slides_shapes_by_eval_shape():
  """AlexNet CONV1: 227x227x3 -> 96 11x11 filters at stride 4 -> 55x55x96; on a 227x227x3x15 clip, a
  filter of temporal extent 1 gives 15x55x55x96, extent 3 (VALID) 13x55x55x96, and early fusion's
  extent-15 filter (the 45-channel stack) 1x55x55x96."""
  clip = jax.ShapeDtypeStruct((1, 15, 227, 227, 3), jnp.float32)
  frame = jax.ShapeDtypeStruct((1, 227, 227, 3), jnp.float32)
  conv1 = nn.Conv(96, (11, 11), (4, 4), padding="VALID")
  assert jax.eval_shape(lambda x: conv1.init_with_output(jax.random.key(0), x)[0], frame).shape == (1, 55, 55, 96)
  for kt, out_t in ((1, 15), (3, 13), (15, 1)):
    layer = SpatioTemporalConv(96, (kt, 11, 11), (1, 4, 4), padding="VALID", temporal_padding="VALID")
    out, variables = jax.eval_shape(lambda x, layer=layer: layer.init_with_output(jax.random.key(0), x), clip)
    assert out.shape == (1, out_t, 55, 55, 96)
    assert variables["params"]["conv"]["kernel"].shape == (kt, 11, 11, 3, 96)
  stacked = jax.ShapeDtypeStruct((1, 227, 227, 45), jnp.float32)
  out = jax.eval_shape(lambda x: nn.Conv(96, (11, 11), (4, 4), padding="VALID").init_with_output(jax.random.key(0), x)[0], stacked)
  assert out.shape == (1, 55, 55, 96)


def test_pool3d_matches_numpy():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(1, 4, 6, 6, 2)).astype(np.float32)
  ref = x.reshape(1, 2, 2, 3, 2, 3, 2, 2).max(axis=(2, 4, 6))
  np.testing.assert_array_equal(pool3d(x, (2, 2, 2)), ref)
  ref1 = x.reshape(1, 4, 3, 2, 3, 2, 2).max(axis=(3, 5))
  np.testing.assert_array_equal(pool3d(x, (1, 2, 2)), ref1)
  assert pool3d(jnp.zeros((1, 2, 7, 7, 1)), (2, 2, 2)).shape == (1, 1, 4, 4, 1)  # ceil mode, as C3D's pool5


def shape_for(name):
  return {"spatial_stream": (8, 16, 16, 3), "temporal_stream": (8, 16, 16, 3), "two_stream": (8, 16, 16, 3),
          "local_3d_cnn": (8, 16, 16, 1)}.get(name, (8, 16, 16, 1))


def test_every_video_model_rejects_a_clip_of_the_wrong_rank():
  names = [n for n in list_models("video") if n != "c3d"]
  assert {"single_frame", "early_fusion", "late_fusion", "slow_fusion", "c3d_tiny", "two_stream", "lrcn", "conv_gru",
          "video_transformer"} <= set(names)
  for name in names:
    with pytest.raises(ConfigError, match=r"clips: .* rank-5"):
      get_model(name).init(jax.random.key(0), jnp.zeros((2, 16, 16, 1)))


@pytest.mark.parametrize("name,kwargs,frames,need", [("slow_fusion", {}, 6, 7), ("late_fusion", {"gap": 7}, 5, 8),
                                                      ("early_fusion", {"fusion_frames": 8}, 4, 8),
                                                      ("local_3d_cnn", {}, 4, 5)])
def test_too_few_frames_for_the_temporal_extent_is_named(name, kwargs, frames, need):
  with pytest.raises(ConfigError, match=rf"clips.frames: {name} needs at least {need} frames .* got {frames}"):
    get_model(name, **kwargs).init(jax.random.key(0), jnp.zeros((1, frames, 16, 16, 1)))
