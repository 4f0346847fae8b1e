"""Study 2 — ``lax.scan`` vs a Python-unrolled time loop, as the sequence grows.

The same cell — the course layers' ``rnn_step_forward`` / ``lstm_step_forward`` — driven over T
steps two ways inside one jitted training computation (forward, a loss over every hidden state,
``jax.grad`` w.r.t. the weights):

- ``scan``: one ``lax.scan``; the traced program holds the cell once, whatever T is;
- ``unrolled``: a Python ``for`` loop; the traced program holds T copies of the cell.

The claim to measure (jax-ml/jax#1897, #2777): compile time stays flat for scan and grows with T for
the unrolled loop, while step time can favour unrolling for short sequences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cs231n_jax.bench.harness import Record, measure_jax
from cs231n_jax.layers.rnn_layers import lstm_step_forward, rnn_step_forward

LENGTHS = (8, 16, 32, 64, 128, 256, 512)
BATCH, INPUT_DIM, HIDDEN = 32, 32, 64


def cell_step(cell: str):
  """``(carry, x_t, weights) -> (carry, h_t)`` for the course cell ``cell``."""
  if cell == "rnn":
    return lambda h, x_t, w: (lambda nh: (nh, nh))(rnn_step_forward(x_t, h, *w)[0])

  def lstm(carry, x_t, w):
    h, c = carry
    nh, nc, _ = lstm_step_forward(x_t, h, c, *w)
    return (nh, nc), nh

  return lstm


def sequence_loss(weights, x, carry0, cell: str, unroll: bool):
  step = cell_step(cell)
  if unroll:
    carry, hs = carry0, []
    for t in range(x.shape[1]):
      carry, h = step(carry, x[:, t], weights)
      hs.append(h)
    hs = jnp.stack(hs, axis=1)
  else:
    _, hs = jax.lax.scan(lambda c, x_t: step(c, x_t, weights), carry0, jnp.swapaxes(x, 0, 1))
  return jnp.mean(jnp.square(hs))


def inputs(cell: str, length: int, seed: int = 0):
  gates = 4 if cell == "lstm" else 1
  k = jax.random.split(jax.random.PRNGKey(seed), 4)
  scale = 1.0 / jnp.sqrt(HIDDEN)
  weights = (jax.random.normal(k[0], (INPUT_DIM, gates * HIDDEN)) * scale,
             jax.random.normal(k[1], (HIDDEN, gates * HIDDEN)) * scale, jnp.zeros(gates * HIDDEN))
  x = jax.random.normal(k[2], (BATCH, length, INPUT_DIM))
  h0 = jnp.zeros((BATCH, HIDDEN))
  carry0 = h0 if cell == "rnn" else (h0, jnp.zeros((BATCH, HIDDEN)))
  return weights, x, carry0


def run(cells=("rnn", "lstm"), lengths=LENGTHS, n_runs: int = 10, peak: float | None = None,
        unrolled_compile_budget_s: float = 120.0) -> list[Record]:
  """Both loops for every cell and length. XLA's cost analysis counts a while-loop body once, so
  the scan record takes its FLOPs from the unrolled record of the same computation. Once the
  unrolled program's compile time passes ``unrolled_compile_budget_s``, longer unrolled sequences
  are not compiled (their record says so)."""
  records = []
  for cell in cells:
    over_budget = False
    for length in lengths:
      weights, x, carry0 = inputs(cell, length)
      params = {"cell": cell, "T": length, "batch": BATCH, "hidden": HIDDEN}
      flops = None
      for unroll in (True, False):
        variant = f"{cell} T={length} {'unrolled' if unroll else 'scan'}"
        if unroll and over_budget:
          records.append(Record("scan_vs_unrolled", variant, params=dict(params, loop="unrolled",
                                skipped=f"compile time of a shorter sequence exceeded {unrolled_compile_budget_s:.0f} s")))
          continue
        fn = jax.value_and_grad(lambda w, x, c, _cell=cell, _u=unroll: sequence_loss(w, x, c, _cell, _u))
        r = measure_jax(fn, (weights, x, carry0), study="scan_vs_unrolled", variant=variant, n_runs=n_runs,
                        peak_flops_per_s=peak, params=dict(params, loop="unrolled" if unroll else "scan"))
        if unroll:
          flops = r.flops
          over_budget = r.compile_s > unrolled_compile_budget_s
        elif flops:
          r.flops = flops
          r.flops_per_s = flops / r.step_median_s
          r.fraction_of_peak = r.flops_per_s / peak if peak else None
        records.append(r)
  return records
