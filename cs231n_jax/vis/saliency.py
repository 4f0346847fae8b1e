"""Saliency maps (lecture 13; Simonyan et al. 2014) and their refinements: guided backpropagation
(Springenberg et al. 2015), SmoothGrad (Smilkov et al. 2017) and integrated gradients (Sundararajan
et al. 2017). Pure functions of a ``logits_fn(images) -> logits`` on NHWC batches.

- :func:`vanilla_gradients`: d score_c / d image, the class score being the UNNORMALISED logit (the
  lecture's choice: the softmax would also move with the other classes' scores).
- Guided backpropagation is vanilla gradients through a network whose ReLUs are :func:`guided_relu`
  (or :func:`guided_relu6`): forward unchanged; backward passes a gradient only where the input was
  positive (the ReLU's own rule) AND the incoming gradient is positive (the "deconvnet" rule). Both
  pretrained networks and :mod:`cs231n_jax.vis.digits_cnn` take the activation as a field, so
  ``model.clone(relu6=guided_relu6)`` gives the guided network.
- :func:`smoothgrad`: the mean gradient over ``num_samples`` noisy copies (noise std = ``noise_level``
  times the image's value range), drawn and accumulated in a ``lax.scan``.
- :func:`integrated_gradients`: (x - x') times the mean gradient along the straight path from the
  baseline x' (black by default) to x, by the trapezoid rule in a ``lax.scan``; it satisfies
  completeness: the attributions sum to score(x) - score(x') up to the quadrature error.
- :func:`saliency_map`: per pixel, the maximum over channels of |attribution| (the lecture's map).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

LogitsFn = Callable[[jax.Array], jax.Array]


@jax.custom_vjp
def guided_relu(x: jax.Array) -> jax.Array:
  return jnp.maximum(x, 0.0)


def _guided_relu_fwd(x):
  return guided_relu(x), x


def _guided_relu_bwd(x, g):
  return (jnp.where((x > 0) & (g > 0), g, 0.0).astype(g.dtype),)


guided_relu.defvjp(_guided_relu_fwd, _guided_relu_bwd)


@jax.custom_vjp
def guided_relu6(x: jax.Array) -> jax.Array:
  return jnp.clip(x, 0.0, 6.0)


def _guided_relu6_fwd(x):
  return guided_relu6(x), x


def _guided_relu6_bwd(x, g):
  return (jnp.where((x > 0) & (x < 6) & (g > 0), g, 0.0).astype(g.dtype),)


guided_relu6.defvjp(_guided_relu6_fwd, _guided_relu6_bwd)


def class_scores(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array) -> jax.Array:
  """The unnormalised score of each image's class: ``logits[i, labels[i]]``."""
  logits = logits_fn(images)
  return jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]


def vanilla_gradients(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array) -> jax.Array:
  """d score_label / d image for every image of the batch (the examples do not interact in eval mode)."""
  return jax.grad(lambda x: jnp.sum(class_scores(logits_fn, x, labels)))(images)


def smoothgrad(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, key: jax.Array, num_samples: int = 25,
               noise_level: float = 0.15, squared: bool = False) -> jax.Array:
  """The average of :func:`vanilla_gradients` over ``num_samples`` copies with Gaussian noise of std
  ``noise_level * (max - min)`` of each image (the paper's 10-20%); ``squared`` averages the squared
  gradients instead ("SmoothGrad-Squared", Hooker et al. 2019: no cancellation of opposite signs)."""
  if num_samples < 1:
    raise ValueError(f"num_samples: expected at least 1, got {num_samples}")
  span = jnp.max(images, axis=(1, 2, 3), keepdims=True) - jnp.min(images, axis=(1, 2, 3), keepdims=True)
  sigma = noise_level * span

  def body(total, k):
    noisy = images + sigma * jax.random.normal(k, images.shape, images.dtype)
    g = vanilla_gradients(logits_fn, noisy, labels)
    return total + (g * g if squared else g), None

  total, _ = jax.lax.scan(body, jnp.zeros_like(images), jax.random.split(key, num_samples))
  return total / num_samples


def integrated_gradients(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, baseline: jax.Array | None = None,
                         steps: int = 32) -> jax.Array:
  """(x - x') * the path integral of the gradient from x' to x (trapezoid rule over ``steps`` intervals)."""
  if steps < 1:
    raise ValueError(f"steps: expected at least 1, got {steps}")
  baseline = jnp.zeros_like(images) if baseline is None else jnp.broadcast_to(baseline, images.shape)
  alphas = jnp.linspace(0.0, 1.0, steps + 1)
  weights = jnp.full((steps + 1,), 1.0 / steps).at[0].set(0.5 / steps).at[-1].set(0.5 / steps)

  def body(total, aw):
    alpha, w = aw
    return total + w * vanilla_gradients(logits_fn, baseline + alpha * (images - baseline), labels), None

  total, _ = jax.lax.scan(body, jnp.zeros_like(images), (alphas, weights))
  return (images - baseline) * total


def saliency_map(attributions: jax.Array) -> jax.Array:
  """(N, H, W): the maximum over channels of the absolute attribution."""
  return jnp.max(jnp.abs(attributions), axis=-1)


METHODS = ("vanilla", "guided", "smoothgrad", "integrated_gradients")


def attribute(method: str, logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, key: jax.Array | None = None,
              guided_logits_fn: LogitsFn | None = None, **kwargs) -> jax.Array:
  """One of :data:`METHODS` by name (``guided`` needs ``guided_logits_fn``: the network with guided ReLUs)."""
  if method == "vanilla":
    return vanilla_gradients(logits_fn, images, labels)
  if method == "guided":
    if guided_logits_fn is None:
      raise ValueError("guided_logits_fn: guided backprop needs the network built with guided ReLUs")
    return vanilla_gradients(guided_logits_fn, images, labels)
  if method == "smoothgrad":
    return smoothgrad(logits_fn, images, labels, jax.random.PRNGKey(0) if key is None else key, **kwargs)
  if method == "integrated_gradients":
    return integrated_gradients(logits_fn, images, labels, **kwargs)
  raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
