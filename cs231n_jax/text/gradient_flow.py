"""Exploding and vanishing gradients (lecture 10, "gradient flow"), measured.

"Backpropagation from h_t to h_{t-1} multiplies by W_hhᵀ": the gradient that reaches a state k
steps back has been multiplied by k Jacobians. For a *linear* recurrence ``h_t = W h_{t-1} + U x_t``
with ``W = s Q`` (Q orthogonal) every singular value of ``W^k`` is ``s^k``, so
``‖∂L/∂h_{T-k}‖ = s^k ‖∂L/∂h_T‖`` exactly — "largest singular value > 1: exploding gradients;
< 1: vanishing gradients". With tanh each Jacobian is ``diag(1 - h²) W``, so the norm is at most
``s^k`` and usually far below. The LSTM's cell is updated additively, ``c_t = f ⊙ c_{t-1} + i ⊙ g``:
"backpropagation from c_t to c_{t-1} [is] only elementwise multiplication by f, no matrix multiply
by W", so with forget gates near 1 the gradient survives.

:func:`state_gradient_norms` measures ``‖∂L/∂state_t‖`` for every t of one sequence, L a fixed
random readout of the final hidden state, by differentiating with respect to zero perturbations
added to each step's state (one ``jax.grad`` call, no Python loop over t).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.nn.recurrent import hidden_state, make_cell
from cs231n_jax.plotting import save_figure, subplots

Array = jax.Array
FIGURE_NAME = "gradient_flow.png"


def state_gradient_norms(step: Callable[[Any, Array], Any], carry0: Any, xs: Array, readout: Array) -> Array:
  """‖∂L/∂carry_t‖ for t = 1 … T (the state after each step), L = readout · h_T.

  Args:
    step: ``(carry, x_t) -> carry`` for one example (no batch axis).
    carry0: the initial carry (an array, or a tuple such as the LSTM's (c, h)).
    xs: (T, D) inputs.
    readout: (H,) the fixed direction the loss reads from the final hidden state.

  Returns:
    (T,) gradient norms (over every leaf of the carry); entry T-1 is the last state.
  """

  def loss(deltas):
    def body(carry, inputs):
      x, delta = inputs
      carry = jax.tree.map(jnp.add, step(carry, x), delta)
      return carry, None

    final, _ = jax.lax.scan(body, carry0, (xs, deltas))
    return jnp.vdot(readout, hidden_state(final))

  zeros = jax.tree.map(lambda c: jnp.zeros((xs.shape[0], *c.shape), c.dtype), carry0)
  grads = jax.grad(loss)(zeros)
  squares = sum(jnp.sum(g.reshape(xs.shape[0], -1) ** 2, axis=1) for g in jax.tree.leaves(grads))
  return jnp.sqrt(squares)


def linear_rnn_norms(scale: float, hidden: int, length: int, key: Array) -> Array:
  """The linear recurrence with ``W = scale * Q``: gradient norms, which equal ``scale^k``."""
  q, _ = jnp.linalg.qr(jax.random.normal(key, (hidden, hidden)))
  W = scale * q
  step = lambda h, x: h @ W + x
  xs = jax.random.normal(jax.random.fold_in(key, 1), (length, hidden))
  readout = jax.random.normal(jax.random.fold_in(key, 2), (hidden,))
  return state_gradient_norms(step, jnp.zeros(hidden), xs, readout / jnp.linalg.norm(readout))


def cell_norms(kind: str, hidden: int, length: int, key: Array, recurrent_scale: float = 1.0,
               input_dim: int = 8, **cell_kwargs) -> Array:
  """Gradient norms of a freshly initialised Flax cell (``Wh`` multiplied by ``recurrent_scale``)."""
  cell = make_cell(kind, hidden, **cell_kwargs)
  k1, k2, k3 = jax.random.split(key, 3)
  xs = jax.random.normal(k1, (length, input_dim))
  carry0 = jax.tree.map(lambda c: c.astype(xs.dtype), cell.initialize_carry(None, (input_dim,)))
  params = jax.tree.map(lambda p: p.astype(xs.dtype), cell.init(k2, carry0, xs[0])["params"])
  params = dict(params, Wh=params["Wh"] * recurrent_scale)
  step = lambda c, x: cell.apply({"params": params}, c, x)[0]
  readout = jax.random.normal(k3, (hidden,))
  return state_gradient_norms(step, carry0, xs, readout / jnp.linalg.norm(readout))


def _geometric_mean(norms: Array) -> np.ndarray:
  return np.exp(np.mean(np.log(np.maximum(np.asarray(norms), 1e-300)), axis=0))


def run_gradient_flow(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Gradient norm ‖∂L/∂state_t‖ against steps back, for linear, tanh and LSTM recurrences; a plot
  and the ratio (norm 100 steps back) / (norm at the last step) for each."""
  if config.length < 2 or config.hidden_size < 1:
    raise ConfigError(f"length / hidden_size: expected length >= 2 and a positive size, got {config.length}, {config.hidden_size}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  start = time.time()
  keys = jax.random.split(jax.random.key(config.seed), config.num_sequences)
  h, length = config.hidden_size, config.length
  curves: dict[str, np.ndarray] = {}
  with jax.enable_x64(True):  # a hundred Jacobians underflow float32 (below 1e-38) for the tanh RNN
    _measure(curves, config, keys, h, length)
  results = {"length": length, "hidden_size": h, "ratio_first_to_last": {}}
  for name, norms in curves.items():
    results["ratio_first_to_last"][name] = float(norms[0] / norms[-1])
  plot_gradient_flow(curves, workdir / FIGURE_NAME)
  results["wall_time_s"] = time.time() - start
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  for name, r in results["ratio_first_to_last"].items():
    print(f"{name:45s} |dL/dh_1| / |dL/dh_T| = {r:.3e}")
  return results


def _measure(curves, config, keys, h, length) -> None:
  for s in config.linear_scales:
    curves[f"linear, W = {s:g} Q"] = _geometric_mean(jax.vmap(lambda k: linear_rnn_norms(s, h, length, k))(keys))
  for s in config.tanh_scales:
    curves[f"vanilla tanh RNN, Wh = {s:g} x orthogonal"] = _geometric_mean(
        jax.vmap(lambda k: cell_norms("rnn", h, length, k, recurrent_scale=s))(keys))
  for fb in config.lstm_forget_biases:
    curves[f"LSTM, forget bias {fb:g}"] = _geometric_mean(
        jax.vmap(lambda k: cell_norms("lstm", h, length, k, forget_bias=fb))(keys))


def plot_gradient_flow(curves: dict[str, np.ndarray], path) -> None:
  fig, ax = subplots(figsize=(7, 4.2))
  for name, norms in curves.items():
    back = np.arange(len(norms))[::-1]  # entry t is len-1-t steps before the last state
    ax.semilogy(back, norms / norms[-1], label=name, ls="--" if name.startswith("linear") else "-")
  ax.set_xlabel("steps back from the last state (k)")
  ax.set_ylabel("‖∂L/∂state_{T-k}‖ / ‖∂L/∂state_T‖")
  ax.set_title("Gradient flow through time (lecture 10)")
  ax.legend(fontsize=7)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
