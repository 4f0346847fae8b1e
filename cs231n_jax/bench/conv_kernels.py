"""One 3x3 convolution's three kernels, the library's vs PyTorch's.

For each 3x3 stride-1 "same" convolution shape of the CIFAR ResNets and ``small_vgg`` at batch 128,
three operations, each as one compiled JAX program and as one PyTorch eager call (NCHW, as in the
``peers`` models):

- ``forward``: the convolution;
- ``input gradient``: its vector-Jacobian product with respect to the input;
- ``weight gradient``: with respect to the kernel.

The JAX side is the library's convolution (:func:`cs231n_jax.cpu.rewrites.conv_general_dilated`,
what ``Conv`` runs: on CPU the kernels of :mod:`cs231n_jax.cpu.kernels`, or XLA's convolution
written as ``rewrites`` writes it where they are not built), so its times include every copy XLA
adds around the kernel. PyTorch runs ``conv2d`` and
``aten.convolution_backward`` (oneDNN on x86). Both sides' results are compared before timing, and
the six variants of a shape take turns call by call.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from cs231n_jax.bench.harness import Record, measure_interleaved, prepare_jax, prepare_python
from cs231n_jax.cpu import platform_of, rewrites, traced_for

# (input channels, output channels, height = width): ResNet stages, then small_vgg's convolutions.
SHAPES = ((16, 16, 32), (32, 32, 16), (64, 64, 8), (32, 32, 32), (32, 64, 16), (64, 64, 16), (64, 128, 8),
          (128, 128, 8))
BATCH = 128
OPS = ("forward", "input gradient", "weight gradient")
NHWC = ("NHWC", "HWIO", "NHWC")


def conv(x, w):
  return rewrites.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)


JAX_OPS = {
    "forward": lambda x, w, g: conv(x, w),
    "input gradient": lambda x, w, g: jax.vjp(lambda v: conv(v, w), x)[1](g)[0],
    "weight gradient": lambda x, w, g: jax.vjp(lambda v: conv(x, v), w)[1](g)[0],
}


def torch_ops(x, w, g):
  """PyTorch's calls for the same three operations on NCHW / OIHW tensors."""
  import torch

  def backward(mask):
    return lambda: torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                                       mask)
  grad_x, grad_w = backward([True, False, False]), backward([False, True, False])
  return {"forward": lambda: torch.nn.functional.conv2d(x, w, padding=1),
          "input gradient": lambda: grad_x()[0], "weight gradient": lambda: grad_w()[1]}


def check_same_results(jax_args, torch_calls, rtol: float = 1e-4) -> None:
  """Each JAX operation against PyTorch's, relative to the largest magnitude."""
  for op in OPS:
    ours = np.asarray(jax.jit(traced_for(platform_of(jax.local_devices()), JAX_OPS[op]))(*jax_args))
    theirs = torch_calls[op]().numpy()
    theirs = theirs.transpose(2, 3, 1, 0) if op == "weight gradient" else theirs.transpose(0, 2, 3, 1)
    err = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    if err > rtol:
      raise AssertionError(f"conv_kernels: {op} of {jax_args[1].shape}: JAX and PyTorch differ by {err:.1e}")


def run(shapes=SHAPES, batch: int = BATCH, n_runs: int = 10, peak: float | None = None) -> list[Record]:
  import torch

  threads = os.cpu_count()
  torch.set_num_threads(threads)
  records = []
  for c_in, c_out, size in shapes:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c_in, size, size)).astype(np.float32)
    w = (rng.standard_normal((c_out, c_in, 3, 3)) / np.sqrt(9 * c_in)).astype(np.float32)
    g = rng.standard_normal((batch, c_out, size, size)).astype(np.float32)
    tx, tw, tg = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    jax_args = (jax.numpy.asarray(x.transpose(0, 2, 3, 1)), jax.numpy.asarray(w.transpose(2, 3, 1, 0)),
                jax.numpy.asarray(g.transpose(0, 2, 3, 1)))
    calls = torch_ops(tx, tw, tg)
    with torch.no_grad():
      check_same_results(jax_args, calls)
    flops = 2.0 * batch * size * size * c_in * c_out * 9  # each of the three operations
    params = {"c_in": c_in, "c_out": c_out, "size": size, "batch": batch, "threads": threads}
    prepared = []
    for op in OPS:
      name = f"{c_in}->{c_out} @{size}x{size} {op}"
      jax_record, jax_call = prepare_jax(JAX_OPS[op], jax_args, study="conv_kernels", variant=f"{name}, library",
                                         peak_flops_per_s=peak, params={**params, "op": op})
      jax_record.flops = flops  # XLA's count would add the identity matmul and padding
      prepared.append((jax_record, jax_call))
      prepared.append(prepare_python(calls[op], study="conv_kernels", variant=f"{name}, PyTorch",
                                     framework="torch", flops=flops, peak_flops_per_s=peak,
                                     params={**params, "op": op}))
    with torch.no_grad():
      records += measure_interleaved(prepared, n_runs=n_runs)
  return records


def ratio_table(records) -> str:
  """Markdown: per shape and operation, both medians and library / PyTorch."""
  by_variant = {(r.params["c_in"], r.params["c_out"], r.params["size"], r.params["op"], r.framework): r.step_median_s
                for r in records}
  batch = records[0].params["batch"] if records else BATCH
  lines = [f"| convolution (batch {batch}) | operation | library (JAX) | PyTorch eager | library / PyTorch |",
           "|---|---|---:|---:|---:|"]
  for (c_in, c_out, size, op, framework), t in by_variant.items():
    if framework != "jax":
      continue
    theirs = by_variant[(c_in, c_out, size, op, "torch")]
    lines.append(f"| {c_in}->{c_out} at {size}x{size} | {op} | {t * 1e3:.2f} ms | {theirs * 1e3:.2f} ms | "
                 f"{t / theirs:.2f}x |")
  return "\n".join(lines) + "\n"
