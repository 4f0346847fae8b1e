"""Dynamic evaluation of a character language model (Krause et al., "Dynamic Evaluation of Neural
Sequence Models", ICML 2018), the SGD rule with decay toward the trained parameters.

The held-out text is read as one stream, ``segment`` characters at a time, with the recurrent state
carried. Each segment is first *scored* with the current parameters (those nats are the result),
then the model takes one gradient step on that segment's mean loss and is pulled back toward the
trained parameters ``θ_g``:

    θ_i = θ_{i-1} - η ∇L(s_i; θ_{i-1}) + λ (θ_g - θ_{i-1}).

Every character is predicted before the model has trained on it, so the total is a true (sequential,
"prequential") log-likelihood of the held-out text, and ``η = 0`` is exactly the static evaluation
(:func:`cs231n_jax.tasks.char_lm.stream_nats` over one row). η and λ are chosen on val, then applied
once to test. It is a different protocol from static evaluation — the model adapts to the text it
has read — so results say which one they are.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.errors import ConfigError

LN2 = float(np.log(2.0))


def segment_batch(ids: np.ndarray, segment: int) -> dict[str, np.ndarray]:
  """A text of n ids -> its n - 1 predictions cut into segments: ``inputs`` / ``targets`` (S, segment)
  and ``weights`` (S, segment), 0 on the padding of the last segment."""
  ids = np.asarray(ids, np.int32)
  if ids.ndim != 1 or ids.size < 2:
    raise ConfigError(f"ids: expected a 1-d text of at least 2 characters, got shape {ids.shape}")
  if segment < 1:
    raise ConfigError(f"dynamic_eval.segment_length: expected a positive integer, got {segment!r}")
  predictions = ids.size - 1
  count = -(-predictions // segment)
  pad = count * segment - predictions
  inputs = np.concatenate([ids[:-1], np.zeros(pad, np.int32)]).reshape(count, segment)
  targets = np.concatenate([ids[1:], np.zeros(pad, np.int32)]).reshape(count, segment)
  weights = np.concatenate([np.ones(predictions, np.float32), np.zeros(pad, np.float32)]).reshape(count, segment)
  return {"inputs": inputs, "targets": targets, "weights": weights}


def make_dynamic_nats(model):
  """``nats(params, batch, learning_rate, decay) -> summed nats`` of a :func:`segment_batch`, compiled
  once for the model (η and λ are traced arguments, so a grid over them does not recompile)."""

  def segment_loss(params, carry, inputs, targets, weights):
    carry, logits = model.apply({"params": params}, inputs[None], carry)
    nll = optax.softmax_cross_entropy_with_integer_labels(logits[0], targets) * weights
    return jnp.sum(nll) / jnp.maximum(jnp.sum(weights), 1.0), (carry, jnp.sum(nll))

  grad_fn = jax.grad(segment_loss, has_aux=True)

  @jax.jit
  def nats(params, batch, learning_rate, decay):
    def body(state, segment):
      current, carry = state
      grads, (carry, total) = grad_fn(current, carry, segment["inputs"], segment["targets"], segment["weights"])
      current = jax.tree.map(lambda p, g, p0: p - learning_rate * g + decay * (p0 - p), current, grads, params)
      return (current, jax.lax.stop_gradient(carry)), total

    _, totals = jax.lax.scan(body, (params, model.initial_carries(1)), batch)
    return jnp.sum(totals)

  return nats


def dynamic_bits(nats_fn, params, ids: np.ndarray, segment: int, learning_rate: float, decay: float) -> float:
  """Bits per character of ``ids`` (its n - 1 predictions) under dynamic evaluation."""
  batch = segment_batch(ids, segment)
  total = nats_fn(params, batch, jnp.float32(learning_rate), jnp.float32(decay))
  return float(total) / float(batch["weights"].sum()) / LN2


def tune_and_evaluate(model, params, val: np.ndarray, test: np.ndarray, segment: int,
                      learning_rates: Sequence[float], decays: Sequence[float]) -> dict[str, Any]:
  """Every (η, λ) of the grid scored on val; the best pair (lowest val bits/char) scores test once. A pair
  whose updates diverge (non-finite val) is reported as it is and never chosen."""
  nats_fn = make_dynamic_nats(model)
  grid = [{"learning_rate": float(lr), "decay": float(d), "val_bits_per_char": dynamic_bits(nats_fn, params, val, segment, lr, d)}
          for lr in learning_rates for d in decays]
  finite = [row for row in grid if np.isfinite(row["val_bits_per_char"])]
  if not finite:
    raise ValueError("dynamic_eval.learning_rates: every (learning rate, decay) pair diverged on val; try smaller rates")
  best = min(finite, key=lambda row: row["val_bits_per_char"])
  test_bits = dynamic_bits(nats_fn, params, test, segment, best["learning_rate"], best["decay"])
  return {"protocol": "dynamic evaluation (Krause et al. 2018, SGD with decay), tuned on val", "segment_length": segment,
          "val_grid": grid, **best, "test_bits_per_char": test_bits}


def check_dynamic_eval_config(block: Mapping[str, Any]) -> None:
  """Raise ``ConfigError`` naming the first impossible field of a ``dynamic_eval`` block (no
  learning rates: dynamic evaluation is off)."""
  segment = block.get("segment_length")
  if isinstance(segment, bool) or not isinstance(segment, int) or segment < 1:
    raise ConfigError(f"dynamic_eval.segment_length: expected a positive integer, got {segment!r}")
  for name in ("learning_rates", "decays"):
    values = tuple(block.get(name) or ())
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values):
      raise ConfigError(f"dynamic_eval.{name}: expected numbers >= 0, got {values!r}")
  if block.get("learning_rates") and not block.get("decays"):
    raise ConfigError("dynamic_eval.decays: expected at least one decay (0.0 for none) when learning_rates are set")
