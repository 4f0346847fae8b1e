"""Static computation graphs (lecture 8's software examples): toy graph, control flow, serialization.

- The toy graph (seed lines 9163–9388): ``a = x * y; b = a + z; c = sum(b)`` with its gradients by
  hand and by ``jax.grad`` (dc/dx = y, dc/dy = x, dc/dz = 1). (The TF-eager version on the slides
  computes ``a = x * z`` — a transcription slip that leaves ``y`` unused; not copied.)
- Control flow in a static graph (11999–12139): the conditional ``y = w1 x if z > 0 else w2 x``
  as ``lax.cond`` (the slide's ``tf.cond(tf.less(z, 0), f1, f2)`` picks ``w1`` when z < 0, the
  opposite of its formula; this follows the formula) and the loop ``y_t = (y_{t-1} + x_t) w`` as
  ``lax.scan`` — both equal to plain Python, but compiled once.
- Serialization (11989–11997, 12388–12437): "once the graph is built, it can be serialized and run
  without the code that built it" — ``jax.export`` of the Linear–ReLU–Linear network (the slides'
  ONNX example: Gemm → Relu → Gemm) to bytes, run in a process that never imports the model code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

TOY_N, TOY_D = 3, 4
ONNX_SHAPES = (64, 1000, 100, 10)  # dummy_input (64, 1000); Linear(1000, 100) - ReLU - Linear(100, 10)


def toy_graph(x, y, z):
  return jnp.sum(x * y + z)


def toy_graph_manual_backward(x, y, z):
  """The slides' NumPy backward pass: grad_c = 1 flows through the sum, the add and the multiply."""
  grad_b = np.ones_like(z)
  grad_a = grad_b.copy()
  return grad_a * y, grad_a * x, grad_b.copy()  # (grad_x, grad_y, grad_z)


def conditional(z, x, w1, w2):
  """``y = w1 x`` if ``z > 0`` else ``w2 x``, as one compiled program (``lax.cond``)."""
  return jax.lax.cond(z > 0, lambda: x @ w1, lambda: x @ w2)


def conditional_python(z, x, w1, w2):
  return x @ w1 if z > 0 else x @ w2


def recurrence(y0, xs, w):
  """``y_t = (y_{t-1} + x_t) w`` over ``xs`` (T, D), as ``lax.scan``; returns every ``y_t``."""
  return jax.lax.scan(lambda y, x: ((y + x) @ w,) * 2, y0, xs)[1]


def recurrence_python(y0, xs, w):
  ys, y = [], y0
  for x in xs:
    y = (y + x) @ w
    ys.append(y)
  return jnp.stack(ys)


def two_layer_forward(params, x):
  w1, b1, w2, b2 = params
  return jnp.maximum(x @ w1 + b1, 0) @ w2 + b2


def onnx_example_params(seed: int = 0):
  n, d_in, h, d_out = ONNX_SHAPES
  k = jax.random.split(jax.random.PRNGKey(seed), 2)
  return (jax.random.normal(k[0], (d_in, h)) / np.sqrt(d_in), jnp.zeros(h),
          jax.random.normal(k[1], (h, d_out)) / np.sqrt(h), jnp.zeros(d_out))


def export_two_layer(params) -> bytes:
  """Serialize the jitted forward (weights baked in as constants) for a (64, 1000) input."""
  n, d_in, _, _ = ONNX_SHAPES
  fn = jax.jit(lambda x: two_layer_forward(params, x))
  exported = jax.export.export(fn)(jax.ShapeDtypeStruct((n, d_in), jnp.float32))
  return exported.serialize()


def run_serialized(blob: bytes, x):
  """Run a serialized program: needs jax, not the code that built it."""
  return jax.export.deserialize(blob).call(x)
