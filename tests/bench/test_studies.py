"""The studies compare like with like: every variant computes the same numbers, and the structural
claims (the unrolled program grows with T, scan's does not) hold. No timing assertions."""

import jax
import numpy as np
import pytest

from cs231n_jax.bench import scan_unrolled, static_dynamic
from cs231n_jax.bench.cli import main
from cs231n_jax.bench.harness import read_records


def test_static_vs_dynamic_variants_agree():
  diffs = static_dynamic.check_equivalence()
  assert set(diffs) == {"JAX jit", "JAX op-by-op (no jit)", "PyTorch eager"}
  assert max(diffs.values()) < 1e-5


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_scan_and_unrolled_loops_compute_the_same_gradients(cell):
  w, x, c = scan_unrolled.inputs(cell, 5)
  g_scan = jax.jit(jax.grad(lambda w: scan_unrolled.sequence_loss(w, x, c, cell, False)))(w)
  g_loop = jax.jit(jax.grad(lambda w: scan_unrolled.sequence_loss(w, x, c, cell, True)))(w)
  for a, b in zip(jax.tree.leaves(g_scan), jax.tree.leaves(g_loop)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_unrolled_program_grows_with_length_scan_does_not():
  records = scan_unrolled.run(cells=("rnn",), lengths=(4, 8), n_runs=1)
  eqns = {(r.params["loop"], r.params["T"]): r.jaxpr_eqns for r in records}
  assert eqns[("scan", 4)] == eqns[("scan", 8)]
  assert eqns[("unrolled", 8)] > eqns[("unrolled", 4)] > eqns[("scan", 4)]
  scan8 = next(r for r in records if r.params == {**r.params, "loop": "scan", "T": 8})
  unrolled8 = next(r for r in records if r.params == {**r.params, "loop": "unrolled", "T": 8})
  assert scan8.flops == unrolled8.flops  # the scan record takes the unrolled program's FLOP count


@pytest.mark.slow
def test_peers_compute_the_same_function():
  import torch

  from cs231n_jax.bench import peers, torch_peers

  for name in ("three_layer_convnet", "small_vgg", "resnet20"):
    torch.manual_seed(0)
    tm = torch_peers.build(name)
    state = peers.flax_state_from_torch(name, tm)
    x, y = peers.make_batch(8)
    assert peers.check_same_function(name, tm, state, x, y) < 1e-4


def test_torch_peers_have_the_flax_parameter_counts():
  from cs231n_jax.bench import peers, torch_peers
  from cs231n_jax.models import count_params

  for name in peers.MODELS:
    flax_count = count_params(name, input_shape=(32, 32, 3), **peers.MODEL_KWARGS.get(name, {}))
    torch_count = sum(p.numel() for p in torch_peers.build(name).parameters())
    assert torch_count == flax_count, name


@pytest.mark.slow
def test_course_layers_study_checks_its_gradients_then_times():
  from cs231n_jax.bench import course_layers

  records = course_layers.run(batch=2, n_runs=1)
  assert [r.framework for r in records] == ["jax", "numpy", "numpy"]
  assert all(r.step_median_s > 0 for r in records)


@pytest.mark.slow
def test_bench_cli_quick_run_writes_records_tables_and_plots(tmp_path):
  assert main(["static_vs_dynamic", "--quick", "--out", str(tmp_path)]) == 0
  assert (tmp_path / "static_vs_dynamic.md").read_text().count("\n| ") >= 4
  assert (tmp_path / "static_vs_dynamic.png").read_bytes()[:4] == b"\x89PNG"
  assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 4  # no torch.compile in --quick


def test_bench_cli_usage_error(capsys):
  assert main(["model", "--model", "resnet20", "--step", "sideways"]) == 2
  assert "--step" in capsys.readouterr().err


def test_conv_kernels_study_checks_results_then_times_each_operation(tmp_path):
  from cs231n_jax.bench import conv_kernels

  assert main(["conv_kernels", "--quick", "--out", str(tmp_path)]) == 0
  table = (tmp_path / "conv_kernels.md").read_text()
  rows = [line for line in table.splitlines() if line.startswith("| 16->16 at 32x32 |")]
  assert [row.split(" | ")[1] for row in rows] == list(conv_kernels.OPS)  # the ratio table: one row each
  records = read_records(str(tmp_path / "records.jsonl"))
  assert sorted((r["params"]["op"], r["framework"]) for r in records) == sorted(
      (op, fw) for op in conv_kernels.OPS for fw in ("jax", "torch"))
  assert all(r["step_median_s"] > 0 and r["flops"] == 2.0 * 8 * 32 * 32 * 16 * 16 * 9 for r in records)


def test_conv_kernels_comparison_catches_a_wrong_result():
  import torch

  from cs231n_jax.bench import conv_kernels

  rng = np.random.default_rng(0)
  x, w, g = (rng.standard_normal(s).astype(np.float32) for s in ((2, 4, 6, 6), (4, 4, 3, 3), (2, 4, 6, 6)))
  jax_args = (x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), g.transpose(0, 2, 3, 1))
  calls = conv_kernels.torch_ops(*map(torch.from_numpy, (x, w, g)))
  conv_kernels.check_same_results(jax_args, calls)
  wrong = dict(calls, **{"weight gradient": lambda: calls["weight gradient"]() * 1.001})
  with pytest.raises(AssertionError, match="weight gradient"):
    conv_kernels.check_same_results(jax_args, wrong)
