"""The masked autoencoder: patches and masks against NumPy, the loss on hidden patches only, the ViT's
parameters, a short run through the engine and its probe."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.ssl import mae
from cs231n_jax.tasks import ssl_pixels
from cs231n_jax.train import loop


def test_patches_masks_and_the_loss_on_hidden_patches_only():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 8, 6, 2)).astype(np.float32)
  p = mae.patchify(jnp.asarray(x), 2)
  ref = np.stack([np.stack([x[n, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(-1) for i in range(4) for j in range(3)])
                  for n in range(3)])
  np.testing.assert_array_equal(p, ref)
  np.testing.assert_array_equal(mae.unpatchify(p, 2, 8, 6), x)

  visible, mask = mae.random_masking(jax.random.PRNGKey(0), 64, 16, 0.75)
  visible, mask = np.asarray(visible), np.asarray(mask)
  assert visible.shape == (64, 4) and np.all(np.diff(visible, axis=1) > 0)  # 4 distinct patches, sorted
  assert np.all(mask.sum(1) == 12) and np.all(mask[np.arange(64)[:, None], visible] == 0)
  assert len({tuple(v) for v in visible}) > 50  # drawn per example
  counts = np.bincount(visible.ravel(), minlength=16)
  assert counts.min() > 0  # every position is sometimes visible (64 x 4 draws over 16 positions)
  with pytest.raises(ConfigError, match="mae.mask_ratio: expected 0 <= ratio < 1, got 1.0"):
    mae.random_masking(jax.random.PRNGKey(0), 2, 16, 1.0)

  images = rng.uniform(size=(2, 4, 4, 1)).astype(np.float32)
  pred = rng.uniform(size=(2, 4, 4)).astype(np.float32)
  m = np.array([[1, 0, 0, 1], [0, 1, 1, 1]], np.float32)
  target = np.asarray(mae.patchify(jnp.asarray(images), 2))
  want = [np.mean([np.mean((pred[n, i] - target[n, i]) ** 2) for i in range(4) if m[n, i]]) for n in range(2)]
  np.testing.assert_allclose(mae.masked_patch_loss(jnp.asarray(pred), jnp.asarray(images), jnp.asarray(m), 2), want,
                             rtol=1e-6)
  # Visible patches do not count: change their predictions, the loss stays.
  other = pred.copy()
  other[m == 0] += 5.0
  np.testing.assert_allclose(mae.masked_patch_loss(jnp.asarray(other), jnp.asarray(images), jnp.asarray(m), 2), want,
                             rtol=1e-6)
  # norm_pix_loss: the targets are each patch's pixels standardised.
  t = (target - target.mean(-1, keepdims=True)) / np.sqrt(target.var(-1, keepdims=True) + 1e-6)
  want = [np.mean([np.mean((pred[n, i] - t[n, i]) ** 2) for i in range(4) if m[n, i]]) for n in range(2)]
  np.testing.assert_allclose(mae.masked_patch_loss(jnp.asarray(pred), jnp.asarray(images), jnp.asarray(m), 2, True),
                             want, rtol=1e-5)


def test_the_encoder_is_the_vit_and_sees_only_visible_patches():
  model = get_model("mae_vit", image_shape=(8, 8, 1), hidden_dim=16, num_layers=1, num_heads=2, mlp_dim=16,
                    decoder_dim=8, decoder_heads=2, decoder_mlp_dim=8)
  x = jax.random.uniform(jax.random.PRNGKey(1), (3, 8, 8, 1))
  visible, mask = mae.random_masking(jax.random.PRNGKey(2), 3, 16, 0.75)
  vit = get_model("vit_tiny", hidden_dim=16, num_layers=1, num_heads=2, mlp_dim=16, num_classes=16, pool="mean")
  hidden_pixels = mae.unpatchify(jnp.broadcast_to(mask[..., None], (3, 16, 4)), 2, 8, 8)
  noisy = x + 3.0 * hidden_pixels * jax.random.normal(jax.random.PRNGKey(3), x.shape)

  @jax.jit  # one compiled program for every forward pass below
  def run():
    params = model.init(jax.random.PRNGKey(0), x, visible)["params"]
    vit_params = vit.init(jax.random.PRNGKey(0), x)["params"]
    shared = {k: params[k] for k in ("patch_embedding", "positions", "encoder")}
    head = {"kernel": jnp.eye(16), "bias": jnp.zeros(16)}
    return (params, vit_params, vit.apply({"params": {**shared, "head": head}}, x),
            model.apply({"params": params}, x, method=type(model).features),
            model.apply({"params": params}, x, visible), model.apply({"params": params}, noisy, visible))

  params, vit_params, vit_out, features, pred, pred_noisy = run()
  # Its parameters load into the registry's ViT (pool="mean"): the ViT's logits through an identity head are
  # the MAE's features (nothing masked).
  assert set(vit_params) == {"patch_embedding", "positions", "encoder", "head"}
  shared = {k: params[k] for k in ("patch_embedding", "positions", "encoder")}
  assert jax.tree.structure(shared) == jax.tree.structure({k: vit_params[k] for k in shared})
  assert all(a.shape == b.shape for a, b in zip(jax.tree.leaves(shared), jax.tree.leaves({k: vit_params[k] for k in shared})))
  np.testing.assert_allclose(vit_out, features, rtol=1e-5, atol=1e-6)
  # The prediction does not depend on the hidden patches' pixels.
  assert float(jnp.abs(noisy - x).max()) > 1.0
  np.testing.assert_allclose(pred, pred_noisy, rtol=1e-5, atol=1e-6)
  assert pred.shape == (3, 16, 4)


def test_mae_trains_through_the_engine_and_beats_the_mean_pixel(tmp_path):
  c = ssl_pixels.base_config()
  c.mae.update({"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "mlp_dim": 64, "decoder_dim": 32, "decoder_mlp_dim": 32})
  c.train.update({"batch_size": 64, "num_steps": 60, "log_every": 10, "progress": False})
  c.optimizer.learning_rate = 3e-3
  c.probe.labels_per_class = (5,)
  task, data, _, _ = ssl_pixels.build(c)
  results = loop.fit(task, data, c, str(tmp_path))
  losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
  assert losses[-1] < 0.7 * losses[0]
  assert results["masked_patch_mse"] < results["masked_patch_mse_mean_pixel"]
  assert 0.3 < results["linear@5"] <= 1.0
