"""Lecture 8's examples: toy-graph gradients, static control flow, and a serialized graph that runs
in a process without the model code."""

import subprocess
import sys

import jax
import numpy as np

from cs231n_jax.bench import static_graphs as sg


def test_toy_graph_gradients_by_hand_and_by_jax():
  rng = np.random.default_rng(0)
  x, y, z = (rng.standard_normal((sg.TOY_N, sg.TOY_D)).astype(np.float32) for _ in range(3))
  gx, gy, gz = jax.grad(sg.toy_graph, argnums=(0, 1, 2))(x, y, z)
  hx, hy, hz = sg.toy_graph_manual_backward(x, y, z)
  np.testing.assert_array_equal(gx, y)
  np.testing.assert_array_equal(gy, x)
  np.testing.assert_array_equal(gz, np.ones_like(z))
  for a, b in ((gx, hx), (gy, hy), (gz, hz)):
    np.testing.assert_array_equal(a, b)


def test_conditional_follows_the_formula_not_the_slide_typo():
  rng = np.random.default_rng(1)
  x, w1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
  f = jax.jit(sg.conditional)
  for z in (10.0, -10.0):
    np.testing.assert_allclose(f(z, x, w1, w2), sg.conditional_python(z, x, w1, w2), rtol=1e-5)
  np.testing.assert_allclose(f(10.0, x, w1, w2), x @ w1, rtol=1e-5)  # z > 0 picks w1


def test_scan_recurrence_equals_the_python_loop_with_gradients():
  rng = np.random.default_rng(2)
  y0, xs, w = rng.standard_normal(4), rng.standard_normal((3, 4)), rng.standard_normal((4, 4)) * 0.5
  np.testing.assert_allclose(jax.jit(sg.recurrence)(y0, xs, w), sg.recurrence_python(y0, xs, w), rtol=1e-5)
  g1 = jax.grad(lambda y: sg.recurrence(y, xs, w).sum())(y0)
  g2 = jax.grad(lambda y: sg.recurrence_python(y, xs, w).sum())(y0)
  np.testing.assert_allclose(g1, g2, rtol=1e-5)


def test_exported_graph_runs_in_a_process_without_the_model_code(tmp_path):
  params = sg.onnx_example_params()
  x = np.random.default_rng(3).standard_normal((64, 1000)).astype(np.float32)
  blob = sg.export_two_layer(params)
  (tmp_path / "model.bin").write_bytes(blob)
  np.save(tmp_path / "x.npy", x)
  script = ("import sys, numpy as np, jax\n"
            "exported = jax.export.deserialize(open(sys.argv[1], 'rb').read())\n"
            "np.save(sys.argv[3], np.asarray(exported.call(np.load(sys.argv[2]))))\n"
            "assert not any(m.startswith('cs231n_jax') for m in sys.modules)\n")
  subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.bin"), str(tmp_path / "x.npy"),
                  str(tmp_path / "y.npy")], check=True, timeout=120)
  np.testing.assert_allclose(np.load(tmp_path / "y.npy"), sg.two_layer_forward(params, x), rtol=1e-5, atol=1e-5)
  # The serialized program is Gemm -> Relu -> Gemm, as the slides' ONNX dump.
  text = jax.jit(lambda x: sg.two_layer_forward(params, x)).lower(x).as_text()
  assert text.count("dot_general") == 2 and "maximum" in text
