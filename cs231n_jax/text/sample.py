"""Sampling text from a character model: one jitted ``lax.scan`` that feeds each sampled character
back in ("at test-time sample characters one at a time, feed back to model", lecture 10).

Temperature divides the scores before the softmax: ``p ∝ exp(y / τ)``. τ → 0 approaches the
argmax (τ = 0 *is* the argmax here: greedy decoding), τ = 1 samples the model's own distribution,
τ > 1 flattens it. The gist's ``np.random.choice(range(V), p=p.ravel())`` is τ = 1.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def tempered_probabilities(logits: Array, temperature: float) -> Array:
  """softmax(logits / τ) for τ > 0."""
  return jax.nn.softmax(logits / temperature, axis=-1)


def pick(logits: Array, key: Array, temperature: Array) -> Array:
  """A sample from softmax(logits / τ) for τ > 0, the argmax for τ = 0 (τ may be traced)."""
  greedy = jnp.argmax(logits, axis=-1)
  safe = jnp.maximum(temperature, jnp.finfo(logits.dtype).tiny)
  drawn = jax.random.categorical(key, logits / safe, axis=-1)
  return jnp.where(temperature > 0, drawn, greedy).astype(jnp.int32)


def make_sampler(model, num_chars: int) -> Callable[[dict, Array, Array, float], Array]:
  """``sample(params, prime (N, P) int, key, temperature) -> (N, num_chars)`` for a ``CharLM``.

  The prime text runs through the model first (its last scores give the first character), then a
  ``lax.scan`` of ``num_chars`` steps samples and feeds back. One compiled program per
  (N, P, num_chars); the temperature is a runtime value.
  """
  if num_chars < 1:
    raise ValueError(f"make_sampler: num_chars must be positive, got {num_chars}")

  @jax.jit
  def sample(params, prime, key, temperature):
    prime = jnp.asarray(prime, jnp.int32)
    if prime.ndim != 2 or prime.shape[1] < 1:
      raise ValueError(f"sample: prime must be (N, P) character ids with P >= 1, got shape {prime.shape}")
    carries, logits = model.apply({"params": params}, prime, model.initial_carries(prime.shape[0]))
    temperature = jnp.asarray(temperature, jnp.float32)

    def step(state, key):
      carries, last = state
      token = pick(last, key, temperature)
      carries, logits = model.apply({"params": params}, token[:, None], carries)
      return (carries, logits[:, 0]), token

    _, tokens = jax.lax.scan(step, (carries, logits[:, -1]), jax.random.split(key, num_chars))
    return tokens.T

  return sample
