"""Pixel models by name, and their maximum-likelihood training on integer-level images."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.generative import training
from cs231n_jax.generative.autoregressive import log_prob, log_prob_from_logits
from cs231n_jax.generative.data import check_levels
from cs231n_jax.generative.pixelcnn import GatedPixelCNN, PixelCNN
from cs231n_jax.generative.pixelrnn import PixelRNN

PIXEL_MODELS = {
    "pixelcnn": (PixelCNN, {}),
    "gated_pixelcnn": (GatedPixelCNN, {}),
    "row_lstm": (PixelRNN, {"kind": "row"}),
    "diagonal_bilstm": (PixelRNN, {"kind": "diagonal"}),
}


def build_pixel_model(name: str, num_levels: int, image_shape, **kwargs) -> nn.Module:
  """``build_pixel_model("gated_pixelcnn", 17, (8, 8, 1), features=32)``."""
  if name not in PIXEL_MODELS:
    raise ValueError(f"model.name: expected one of {sorted(PIXEL_MODELS)}, got {name!r}")
  cls, fixed = PIXEL_MODELS[name]
  fields = set(cls.__dataclass_fields__) - {"parent", "name", *fixed}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f"model.{unknown[0]}: {name} has no such argument; expected one of {sorted(fields)}")
  return cls(num_levels=num_levels, image_shape=tuple(image_shape), **fixed, **kwargs)


def init_pixel_model(model: nn.Module, seed: int) -> Any:
  example = jnp.zeros((1, *model.image_shape), jnp.int32)
  return jax.jit(model.init)(jax.random.key(seed), example)["params"]


def nll_loss_fn(model: nn.Module):
  """Mean ``-log p(x)`` (nats per image) over a batch: the teacher-forced, all-pixels-parallel loss."""

  def loss_fn(params, batch, key):
    logits = model.apply({"params": params}, batch, train=True, rngs={"dropout": key})
    nll = -log_prob_from_logits(logits, batch).mean()
    return nll, {}

  return loss_fn


def train_pixel_model(model: nn.Module, train: np.ndarray, val: np.ndarray, *, learning_rate: float,
                      num_epochs: int, batch_size: int, seed: int, workdir: str | None,
                      patience: int | None = None, weight_decay: float = 0.0,
                      config: dict | None = None) -> training.FitResult:
  """Maximum likelihood with Adam(W); early stopping on the validation NLL."""
  check_levels(train, model.num_levels, model.image_shape, "train")
  check_levels(val, model.num_levels, model.image_shape, "val")
  params = init_pixel_model(model, seed)
  tx = optax.adamw(learning_rate, weight_decay=weight_decay) if weight_decay else optax.adam(learning_rate)
  val_images = np.asarray(val, np.int32)

  def val_loss(p):
    return {"loss": float(-log_prob(model, {"params": p}, val_images).mean())}

  return training.fit(nll_loss_fn(model), params, np.asarray(train, np.int32), val_loss, tx,
                      num_epochs=num_epochs, batch_size=batch_size, seed=seed, workdir=workdir,
                      patience=patience, description=type(model).__name__, config=config)
