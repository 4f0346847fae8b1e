"""Ported numbers hold: the engine's first steps of the likelihood task equal a plain loop's.

The reference below is a few lines: Adam on the mean per-image loss, jitted, applied to the batches of
the old maximum-likelihood loop (an epoch is the permutation of ``default_rng([seed, epoch])``, its
short last batch dropped) with the engine's step keys, from the engine's initial parameters. Its
per-step losses and its validation loss equal what ``loop.fit`` logs (``train`` records every step,
one validation at the end), for a pixel model, the VAE, the autoencoder and the digits scorer.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cs231n_jax.generative.data import load_level_digits, to_unit
from cs231n_jax.generative.evaluate import DigitClassifier
from cs231n_jax.tasks import likelihood
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import init_key

SEED, STEPS, BATCH, LR = 0, 5, 64, 1e-3


def config(model, **extra):
  c = likelihood.base_config()
  c.model = ml_collections.ConfigDict(model)
  c.train.update({"batch_size": BATCH, "num_steps": STEPS, "eval_every": STEPS, "log_every": 1, "progress": False,
                  "async_checkpoints": False})
  c.sample = ml_collections.ConfigDict({"num_samples": 2, "first_pixel": "model"})
  for k, v in extra.items():
    c[k] = v
  return c


def reference(loss_fn, eval_fn, params, train, val):
  """Per-step losses and the final validation loss of a plain loop over the old loop's batches."""
  tx = optax.adam(LR, eps=1e-8)

  @jax.jit
  def update(p, s, batch, key):
    loss, grads = jax.value_and_grad(lambda q: loss_fn(q, batch, key)[0].mean())(p)
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s, loss

  n = len(next(iter(train.values())))
  order = np.random.default_rng([SEED, 0]).permutation(n)  # epoch 0 of the old loop
  run_key = jax.random.split(jax.random.PRNGKey(SEED))[1]  # the engine's training key
  opt_state, losses = tx.init(params), []
  for i in range(STEPS):
    batch = {k: jnp.asarray(v[order[i * BATCH:(i + 1) * BATCH]]) for k, v in train.items()}
    params, opt_state, loss = update(params, opt_state, batch, jax.random.fold_in(run_key, i))
    losses.append(float(loss))
  val_loss = float(jax.jit(eval_fn)(params, {k: jnp.asarray(v) for k, v in val.items()})["loss"].mean())
  return losses, val_loss


def engine(task, data, c, workdir):
  loop.fit(dataclasses.replace(task, finish=None), data, c, workdir)  # the training only, no analysis
  records = read_jsonl(workdir / "metrics.jsonl")
  train = [r["loss"] for r in records if r["split"] == "train"]
  val = [r["loss"] for r in records if r["split"] == "val"]
  assert len(train) == STEPS and len(val) == 1
  return train, val[0]


def check(task, data, c, loss_fn, eval_fn, train, val, tmp_path, val_rtol=1e-5):
  params = task.init(init_key(SEED), data.example)["params"]
  want_train, want_val = reference(loss_fn, eval_fn, params, train, val)
  got_train, got_val = engine(task, data, c, tmp_path)
  np.testing.assert_allclose(got_train, want_train, rtol=1e-5)
  assert got_val == pytest.approx(want_val, rel=val_rtol)
  return got_train


def level_arrays(digits, split):
  images = np.asarray(digits.split(split), np.int32)
  return {"image": images, "index": np.arange(len(images), dtype=np.int32)}


def test_pixel_model_engine_steps_match_a_plain_loop(tmp_path):
  c = config({"name": "gated_pixelcnn", "features": 8, "num_layers": 2, "first_kernel": 3, "head_features": 8,
              "dropout": 0.3})
  task, data = likelihood.build(c)
  digits = load_level_digits(True)
  from cs231n_jax.models.registry import get_model

  model = get_model("gated_pixelcnn", num_levels=2, image_shape=(8, 8, 1), features=8, num_layers=2, first_kernel=3,
                    head_features=8, dropout=0.3)
  loss_fn, eval_fn = likelihood.pixel_losses(model)
  losses = check(task, data, c, loss_fn, eval_fn, level_arrays(digits, "train"), level_arrays(digits, "val"), tmp_path)
  assert losses[-1] < losses[0]


def test_vae_engine_steps_match_a_plain_loop(tmp_path):
  c = config({"name": "vae", "latent_dim": 4, "hidden": (32,), "decoder": "gaussian", "arch": "mlp"},
             eval=ml_collections.ConfigDict({"val_samples": 3}))
  task, data = likelihood.build(c)
  digits = load_level_digits(False)
  from cs231n_jax.generative import vae as vae_lib

  model = vae_lib.VAE(latent_dim=4, hidden=(32,), decoder="gaussian", arch="mlp")
  loss_fn, eval_fn = likelihood.vae_losses(model, digits.num_levels, jax.random.key(SEED + likelihood.VAL_KEY_OFFSET), 3)
  # The validation bound: the same per-example keys, summed in other batches (rounding only).
  check(task, data, c, loss_fn, eval_fn, level_arrays(digits, "train"), level_arrays(digits, "val"), tmp_path,
        val_rtol=1e-4)


def test_autoencoder_engine_steps_match_a_plain_loop(tmp_path):
  c = config({"name": "conv_autoencoder", "code_dim": 4})
  task, data = likelihood.build(c)
  digits = load_level_digits(False)
  from cs231n_jax.generative.autoencoder import ConvAutoencoder

  unit = {s: {"image": to_unit(digits.split(s).astype(np.float32), digits.num_levels)} for s in ("train", "val")}
  loss_fn, eval_fn = likelihood.autoencoder_losses(ConvAutoencoder(code_dim=4))
  check(task, data, c, loss_fn, eval_fn, unit["train"], unit["val"], tmp_path)


def test_digit_scorer_engine_steps_match_a_plain_loop(tmp_path):
  digits = load_level_digits(False)
  arrays = {s: {"image": to_unit(digits.split(s).astype(np.float32), digits.num_levels),
                "label": np.asarray(getattr(digits, f"{s}_labels"), np.int32)} for s in ("train", "val")}
  c = ml_collections.ConfigDict({"seed": SEED, "train": likelihood.in_memory_train_config(1, BATCH)})
  c.train.update({"num_steps": STEPS, "eval_every": STEPS, "log_every": 1})
  data = likelihood.array_data(arrays, c)
  model = DigitClassifier()
  loss_fn, eval_fn = likelihood.classifier_losses(model)
  task = likelihood.loss_task(likelihood.params_initializer(model), optax.adam(LR, eps=1e-8), loss_fn, eval_fn)
  check(task, data, c, loss_fn, eval_fn, arrays["train"], arrays["val"], tmp_path)


def test_a_config_without_a_known_model_is_refused():
  with pytest.raises(Exception, match="model.name: expected one of"):
    likelihood.build(config({"name": "pixelcnm"}))


def test_few_labels_finetune_freezes_the_encoder_only_when_asked():
  from cs231n_jax.generative.analysis import finetune_protocols
  from cs231n_jax.generative.autoencoder import ConvAutoencoder

  digits = load_level_digits(False)
  x = to_unit(digits.train[:20].astype(np.float32), digits.num_levels)
  y = np.asarray(digits.train_labels[:20], np.int32)
  encoder = ConvAutoencoder(code_dim=4).init(jax.random.key(1), jnp.asarray(x[:1]))["params"]["encoder"]
  c = ml_collections.ConfigDict({"model": {"code_dim": 4}, "pretrain": {"steps": 2, "learning_rate": 1e-2}})
  protocols = {p["name"]: p for p in finetune_protocols(ml_collections.ConfigDict({
      "learning_rate": 1e-2, "protocols": ({"name": "whole", "init": "encoder"},
                                           {"name": "frozen", "init": "encoder", "freeze_encoder": True,
                                            "code_activation": "none"})}))}
  assert protocols["whole"] == {"name": "whole", "init": "encoder", "freeze_encoder": False, "learning_rate": 1e-2,
                                "code_activation": "relu"}
  acc, params = likelihood.finetune_few_labels(encoder, x, y, x, y, c, 0, protocols["frozen"], return_params=True)
  assert 0.0 <= acc <= 1.0
  for a, b in zip(jax.tree.leaves(params["encoder"]), jax.tree.leaves(encoder)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bit-identical: the encoder did not train
  fresh = likelihood.EncoderClassifier(code_dim=4, code_activation="none").init(jax.random.key(100), jnp.asarray(x[:1]))
  assert np.max(np.abs(np.asarray(params["classifier"]["kernel"]) - np.asarray(fresh["params"]["classifier"]["kernel"]))) > 0
  with pytest.raises(ValueError, match=r"pretrain.protocols\[0\]: unknown fields \['lr'\]"):
    finetune_protocols(ml_collections.ConfigDict({"learning_rate": 1e-3, "protocols": ({"name": "a", "init": "encoder",
                                                                                         "lr": 1.0},)}))
  with pytest.raises(ValueError, match=r"pretrain.protocols\[0\]: expected a name and init 'encoder' or 'random'"):
    finetune_protocols(ml_collections.ConfigDict({"learning_rate": 1e-3, "protocols": ({"name": "a", "init": "pca"},)}))
