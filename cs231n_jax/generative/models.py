"""Pixel models by name, their initialisation and loss (training: :mod:`cs231n_jax.tasks.likelihood`)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.generative.autoregressive import log_prob_from_logits
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
