"""Study 1 — static vs dynamic graphs: lecture 8's two-layer ReLU network, five ways, one run.

The running example of lecture 8 (seed lines 9414–9446): ``h = relu(x W1)``, ``y_pred = h W2``,
``loss = sum((y_pred - y)^2)``, one SGD step ``W -= lr dW``; N, D_in, H, D_out = 64, 1000, 100, 10.
The same step is written

- in NumPy with the backward pass by hand (the lecture's "numpy" column),
- in JAX executed op by op (``jax.value_and_grad`` without ``jit``: every primitive is dispatched
  on its own, like an eager framework),
- in JAX under ``jit`` (a static graph: traced once, compiled by XLA, reused),
- in PyTorch eager (autograd builds and discards a graph every step: dynamic),
- and with ``torch.compile`` (PyTorch's static-graph path),

all on the same sizes, the same float32 data and the same number of CPU threads.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.bench.harness import Record, measure_interleaved, prepare_jax, prepare_python

LECTURE_SIZES = (64, 1000, 100, 10)  # N, D_in, H, D_out
LARGE_SIZES = (256, 4096, 1024, 10)
LEARNING_RATE = 1e-6  # the lecture's


def make_data(sizes, seed: int = 0) -> dict[str, np.ndarray]:
  n, d_in, h, d_out = sizes
  rng = np.random.default_rng(seed)
  f = lambda *s: rng.standard_normal(s).astype(np.float32)
  return {"x": f(n, d_in), "y": f(n, d_out), "w1": f(d_in, h), "w2": f(h, d_out)}


def numpy_step(d: dict[str, np.ndarray]) -> tuple[float, np.ndarray, np.ndarray]:
  """The lecture's manual backward pass, in NumPy; updates ``d`` in place, returns the loss and
  the gradients."""
  h = d["x"] @ d["w1"]
  h_relu = np.maximum(h, 0)
  y_pred = h_relu @ d["w2"]
  loss = float(np.square(y_pred - d["y"]).sum())
  grad_y_pred = 2.0 * (y_pred - d["y"])
  grad_w2 = h_relu.T @ grad_y_pred
  grad_h = grad_y_pred @ d["w2"].T
  grad_h[h < 0] = 0
  grad_w1 = d["x"].T @ grad_h
  d["w1"] -= LEARNING_RATE * grad_w1
  d["w2"] -= LEARNING_RATE * grad_w2
  return loss, grad_w1, grad_w2


def jax_loss(w, x, y):
  w1, w2 = w
  return jnp.sum(jnp.square(jnp.maximum(x @ w1, 0) @ w2 - y))


def jax_step(w, x, y):
  loss, (g1, g2) = jax.value_and_grad(jax_loss)(w, x, y)
  return (w[0] - LEARNING_RATE * g1, w[1] - LEARNING_RATE * g2), loss


def torch_modules(d: dict[str, np.ndarray]):
  import torch

  t = {k: torch.from_numpy(v.copy()) for k, v in d.items()}
  t["w1"].requires_grad_(True)
  t["w2"].requires_grad_(True)

  def step():
    loss = (t["x"].mm(t["w1"]).clamp(min=0).mm(t["w2"]) - t["y"]).pow(2).sum()
    loss.backward()
    with torch.no_grad():
      for k in ("w1", "w2"):
        t[k] -= LEARNING_RATE * t[k].grad
        t[k].grad.zero_()
    return loss

  return t, step


def run(sizes=LECTURE_SIZES, n_runs: int = 50, peak: float | None = None, with_compile: bool = True) -> list[Record]:
  """Measure the five variants on ``sizes``; returns their records (JAX jit first)."""
  threads = os.cpu_count()
  params = {"N": sizes[0], "D_in": sizes[1], "H": sizes[2], "D_out": sizes[3], "threads": threads}
  d = make_data(sizes)
  w = (jnp.asarray(d["w1"]), jnp.asarray(d["w2"]))
  x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
  jit = prepare_jax(jax_step, (w, x, y), study="static_vs_dynamic", variant="JAX jit", carry=True,
                    donate_argnums=(0,), peak_flops_per_s=peak, params=params)
  peer = lambda call, variant, framework: prepare_python(call, study="static_vs_dynamic", variant=variant,
                                                         framework=framework, flops=jit[0].flops,
                                                         peak_flops_per_s=peak, params=params)
  eager = {"w": (jnp.asarray(d["w1"]), jnp.asarray(d["w2"]))}

  def eager_step():
    with jax.disable_jit():
      eager["w"], loss = jax_step(eager["w"], x, y)
    jax.block_until_ready(loss)

  nd = make_data(sizes)
  prepared = [jit, peer(eager_step, "JAX op-by-op (no jit)", "jax"), peer(lambda: numpy_step(nd), "NumPy by hand", "numpy")]
  try:
    import torch
  except ImportError:
    torch = None
  if torch is not None:
    torch.set_num_threads(threads)
    prepared.append(peer(torch_modules(d)[1], "PyTorch eager", "torch"))
    if with_compile:
      compiled = peer(torch.compile(torch_modules(d)[1]), "torch.compile", "torch")
      compiled[0].compile_s = compiled[0].first_step_s  # torch.compile compiles on the first call
      prepared.append(compiled)
  # The variants take turns call by call, so a shared machine's changing load hits them alike.
  return measure_interleaved(prepared, n_runs=n_runs)


def check_equivalence(sizes=(8, 12, 6, 3)) -> dict[str, float]:
  """Relative difference of the loss gradients, each variant against NumPy's hand-written ones
  (the benchmark times one computation written several ways, so they must agree)."""
  d = make_data(sizes)
  _, g1, g2 = numpy_step({k: v.copy() for k, v in d.items()})
  ref = np.concatenate([g1.ravel(), g2.ravel()])
  rel = lambda a, b: float(np.linalg.norm(np.concatenate([a.ravel(), b.ravel()]) - ref) / np.linalg.norm(ref))
  w = (jnp.asarray(d["w1"]), jnp.asarray(d["w2"]))
  j1, j2 = jax.jit(jax.grad(jax_loss))(w, jnp.asarray(d["x"]), jnp.asarray(d["y"]))
  out = {"JAX jit": rel(np.asarray(j1), np.asarray(j2))}
  with jax.disable_jit():
    e1, e2 = jax.grad(jax_loss)(w, jnp.asarray(d["x"]), jnp.asarray(d["y"]))
  out["JAX op-by-op (no jit)"] = rel(np.asarray(e1), np.asarray(e2))
  try:
    import torch  # noqa: F401
  except ImportError:
    return out
  t, _ = torch_modules(d)
  (t["x"].mm(t["w1"]).clamp(min=0).mm(t["w2"]) - t["y"]).pow(2).sum().backward()
  out["PyTorch eager"] = rel(t["w1"].grad.numpy(), t["w2"].grad.numpy())
  return out
