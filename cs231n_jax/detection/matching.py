"""DETR's bipartite matching: an exact minimum-cost assignment, jittable (Kuhn–Munkres with potentials).

:func:`linear_sum_assignment` solves ``min sum_i C[i, sigma(i)]`` over injective assignments of
the ``n`` rows of ``C`` (n, m), n <= m, to columns — the problem ``scipy.optimize.linear_sum_assignment``
solves — with the O(n^2 m) shortest-augmenting-path form of the Hungarian algorithm (row potentials
``u``, column potentials ``v``; e-maxx's formulation). Every loop is a ``lax`` loop over fixed-size
arrays, so it runs under ``jit`` and ``vmap`` (a batch of images, each with its own cost matrix).

DETR (Carion et al. 2020) matches the ``n`` ground-truth objects of an image (padded: invalid rows
get cost 0 against every query, so they take whatever queries are left) to its ``m`` queries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def linear_sum_assignment(cost: jax.Array) -> jax.Array:
  """For ``cost`` (n, m) with n <= m: ``cols`` (n,) int32, the column assigned to each row, minimising
  the total cost (exact, up to the dtype's rounding)."""
  n, m = cost.shape
  if n > m:
    raise ValueError(f"linear_sum_assignment: expected rows <= columns, got a {n}x{m} cost matrix")
  dtype = cost.dtype
  inf = jnp.asarray(jnp.inf, dtype)
  a = jnp.zeros((n + 1, m + 1), dtype).at[1:, 1:].set(cost)  # 1-based; row / column 0 are sentinels

  def add_row(i, carry):
    u, v, p, way = carry
    p = p.at[0].set(i)
    minv = jnp.full((m + 1,), inf, dtype)
    used = jnp.zeros((m + 1,), bool)

    def search_cond(state):
      _, _, p, _, _, _, j0 = state
      return p[j0] != 0

    def search_body(state):
      u, v, p, way, minv, used, j0 = state
      used = used.at[j0].set(True)
      i0 = p[j0]
      cur = a[i0] - u[i0] - v
      better = (~used) & (cur < minv)
      minv = jnp.where(better, cur, minv)
      way = jnp.where(better, j0, way).astype(jnp.int32)
      masked = jnp.where(used, inf, minv)
      j1 = jnp.argmin(masked.at[0].set(inf)).astype(jnp.int32)
      delta = masked[j1]
      u = u.at[p].add(jnp.where(used, delta, 0.0).astype(dtype))
      v = jnp.where(used, v - delta, v)
      minv = jnp.where(used, minv, minv - delta)
      return u, v, p, way, minv, used, j1

    # the first iteration runs unconditionally (a do-while): j0 = 0 holds row i
    state = search_body((u, v, p, way, minv, used, jnp.int32(0)))
    u, v, p, way, _, _, j0 = lax.while_loop(search_cond, search_body, state)

    def back_cond(state):
      _, j0 = state
      return j0 != 0

    def back_body(state):
      p, j0 = state
      j1 = way[j0]
      return p.at[j0].set(p[j1]), j1

    p, _ = lax.while_loop(back_cond, back_body, (p, j0))
    return u, v, p, way

  init = (jnp.zeros((n + 1,), dtype), jnp.zeros((m + 1,), dtype), jnp.zeros((m + 1,), jnp.int32),
          jnp.zeros((m + 1,), jnp.int32))
  _, _, p, _ = lax.fori_loop(1, n + 1, add_row, init)
  # p[j] = the row (1-based) assigned to column j; invert it
  rows = jnp.where(p[1:] > 0, p[1:] - 1, n)  # column -> row, n for a free column
  cols = jnp.zeros((n + 1,), jnp.int32).at[rows].set(jnp.arange(m, dtype=jnp.int32))
  return cols[:n]
