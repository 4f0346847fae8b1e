"""The benchmark harness produces complete, self-consistent records (never timing thresholds)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.bench import harness
from cs231n_jax.bench.harness import count_jaxpr_eqns, markdown_table, measure_jax, measure_python

M, K, N = 64, 48, 32


def test_matmul_record_is_complete_and_counts_flops_exactly():
  a, b = jnp.ones((M, K)), jnp.ones((K, N))
  r = measure_jax(lambda x, y: x @ y, (a, b), study="t", variant="matmul", n_runs=5, peak_flops_per_s=1e9)
  assert r.flops == 2 * M * N * K
  for field in ("trace_s", "lower_s", "compile_s", "first_step_s", "step_median_s"):
    assert getattr(r, field) > 0, field
  assert r.step_p10_s <= r.step_median_s <= r.step_p90_s and r.n_runs == 5
  assert r.jaxpr_eqns == 1 and r.hlo_instructions >= 3  # two parameters and the dot
  assert r.argument_bytes == 4 * (M * K + K * N) and r.output_bytes == 4 * M * N
  assert r.flops_per_s == pytest.approx(r.flops / r.step_median_s)
  assert r.fraction_of_peak == pytest.approx(r.flops_per_s / 1e9)
  for key in ("backend", "device_kind", "jax", "jaxlib", "flax", "python", "cpu_count", "time"):
    assert key in r.meta
  json.loads(r.to_json())


def test_carried_state_with_donation():
  def step(state, x):
    return state + x, jnp.sum(state)

  r = measure_jax(step, (jnp.zeros(8), jnp.ones(8)), study="t", variant="carry", carry=True,
                  donate_argnums=(0,), n_runs=4, warmup=1)
  assert r.n_runs == 4 and r.output_bytes >= 4 * 8 + 4  # the new state and the sum (plus a tuple table)


def test_jaxpr_equations_inside_scan_are_counted():
  def loop(x):
    return jax.lax.scan(lambda c, _: (jnp.sin(c) * 2.0, None), x, None, length=5)[0]

  jaxpr = jax.make_jaxpr(loop)(jnp.ones(3))
  assert count_jaxpr_eqns(jaxpr) == 3  # scan + sin + mul


def test_python_peer_record_and_table_ratios():
  rj = measure_jax(lambda x: x * 2, (jnp.ones(4),), study="t", variant="jax", n_runs=3)
  rp = measure_python(lambda: np.ones(4) * 2, study="t", variant="numpy", framework="numpy", n_runs=3)
  assert rp.compile_s is None and rp.step_median_s > 0
  table = markdown_table([rj, rp], ratio_to="jax")
  assert table.splitlines()[0].endswith("step vs jax |")
  assert "1.00x" in table.splitlines()[2]
  path_rows = [dataclasses.asdict(rj)]
  assert markdown_table(path_rows)  # dict rows work as well


def test_write_and_read_records(tmp_path):
  r = measure_python(lambda: None, study="t", variant="noop", framework="python", n_runs=2)
  harness.write_records([r, r], str(tmp_path / "out" / "records.jsonl"))
  rows = harness.read_records(str(tmp_path / "out" / "records.jsonl"))
  assert len(rows) == 2 and rows[0]["variant"] == "noop"


def test_peak_matmul_is_positive():
  assert harness.measure_peak_matmul(n=128, n_runs=2) > 0


def test_interleaved_variants_take_turns_and_keep_their_records():
  order = []
  jit = harness.prepare_jax(lambda x: x + 1, (jnp.ones(4),), study="t", variant="jax")
  peer = harness.prepare_python(lambda: order.append("peer"), study="t", variant="peer", framework="python")
  assert jit[0].compile_s > 0 and jit[0].first_step_s > 0 and order == ["peer"]  # prepared = compiled + first step
  calls = {"jax": jit[1]}
  jit = (jit[0], lambda: (order.append("jax"), calls["jax"]()))
  del order[:]
  records = harness.measure_interleaved([jit, peer], n_runs=3, warmup=1)
  # One warm-up round, then three rounds in which each variant's timed call follows an untimed one
  # of its own (another framework's threads may still be spinning after its call).
  assert order == ["jax", "peer"] + ["jax", "jax", "peer", "peer"] * 3
  assert [r.variant for r in records] == ["jax", "peer"] and all(r.n_runs == 3 and r.step_median_s > 0 for r in records)
  del order[:]
  harness.measure_interleaved([jit, peer], n_runs=2, warmup=0, settle=0)
  assert order == ["jax", "peer"] * 2
