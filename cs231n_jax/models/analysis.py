"""Parameter counts, per-layer shapes, memory tables and FLOP counts for the CNN zoo (lecture 9).

Everything that only needs shapes runs under ``jax.eval_shape`` / ``jax.make_jaxpr``: no array is
allocated and nothing is compiled, so VGG-16 or ResNet-152 at 224x224 are analysed in seconds on a
laptop CPU.

Two ways of counting compute:

- :func:`count_macs` walks the jaxpr of the forward pass and counts the multiply-accumulates of
  every convolution and matrix product (output elements x kernel window x input channels per
  group), the convention of the papers and of torchvision's ``_ops`` metadata ("GFLOPS", which are
  really giga multiply-adds): ResNet-18 1.814, ResNet-50 4.089, VGG-16 15.47 at 224x224.
- :func:`xla_flops` asks XLA's own cost analysis of the lowered (or compiled) program. XLA counts
  a multiply-add as 2 FLOPs, skips the zero padding of a convolution's border windows, and adds
  the elementwise work (batch norm, ReLU, pooling), so it reads about 2x the MAC count.

Commands (the tables in docs/benchmarks.md "CNN architectures"):
  python -m cs231n_jax.models.analysis flops --models resnet18,resnet50,vgg16 --compiled
  python -m cs231n_jax.models.analysis compile --models resnet56,resnet110
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models.registry import default_input_shape, get_model, list_models

# torchvision's published multiply-add counts at 224x224 (``Weights.meta["_ops"]``, in G) and
# parameter counts (``meta["num_params"]``), for the models whose counters the docs table compares.
PUBLISHED_GMACS = {
    "alexnet_torchvision": 0.714, "vgg11": 7.609, "vgg13": 11.308, "vgg16": 15.47, "vgg19": 19.632,
    "resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801, "resnet152": 11.514,
    "resnext50_32x4d": 4.23, "resnext101_32x8d": 16.414, "wide_resnet50_2": 11.398,
    "wide_resnet101_2": 22.753, "densenet121": 2.834, "densenet169": 3.36, "densenet201": 4.291,
    "densenet161": 7.728, "squeezenet1_0": 0.819, "squeezenet1_1": 0.349, "googlenet_torchvision": 1.498,
}
# Bytes of one float32 activation ("24M x 4 bytes" on the VGG slide).
FLOAT32_BYTES = 4
GIGA = 1e9


def _model(model: nn.Module | str, **kwargs) -> nn.Module:
  return get_model(model, **kwargs) if isinstance(model, str) else model


def _input_shape(model: nn.Module | str, input_shape: Sequence[int] | None) -> tuple[int, ...]:
  if input_shape is not None:
    return tuple(input_shape)
  if isinstance(model, str):
    return default_input_shape(model)
  raise ValueError("input_shape: required when a model instance (not a registered name) is given")


def init_shapes(model: nn.Module, input_shape: Sequence[int], batch: int = 1) -> dict[str, Any]:
  """The model's variables as ``ShapeDtypeStruct``s (``jax.eval_shape`` of ``init``; no compute)."""
  x = jax.ShapeDtypeStruct((batch, *input_shape), jnp.float32)
  return jax.eval_shape(lambda x: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                             x, train=False), x)


def count_leaves(tree: Any) -> int:
  return sum(int(math.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def param_count(model: nn.Module | str, input_shape: Sequence[int] | None = None, **kwargs) -> int:
  """Number of trainable parameters (the ``params`` collection; batch-norm statistics excluded).

  This is what torchvision's ``num_params`` counts (``sum(p.numel() for p in model.parameters())``).
  """
  shape = _input_shape(model, input_shape)
  return count_leaves(init_shapes(_model(model, **kwargs), shape)["params"])


def param_counts(names: Iterable[str] | None = None) -> dict[str, int]:
  """Parameter counts of registered classifiers (or ``names``) at their registered input shapes."""
  names = list_models("classify") if names is None else names
  return {name: param_count(name) for name in names}


@dataclass(frozen=True)
class Layer:
  """One top-level layer of a model: its name, output shape (without the batch axis) and the
  number of weights (kernel entries, no biases) and biases it owns."""

  name: str
  output_shape: tuple[int, ...]
  weights: int
  biases: int

  @property
  def activations(self) -> int:
    return int(math.prod(self.output_shape))


def _split_params(tree: Any) -> tuple[int, int]:
  """(weights, everything else) of one layer's parameters: ``kernel`` leaves are weights."""
  weights = others = 0
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    size = int(math.prod(leaf.shape))
    if getattr(path[-1], "key", None) == "kernel":
      weights += size
    else:
      others += size
  return weights, others


def layer_outputs(model: nn.Module | str, input_shape: Sequence[int] | None = None,
                  include_input: bool = True, **kwargs) -> list[Layer]:
  """The output shape and parameter count of every top-level layer, in call order (no compute).

  Uses Flax's ``capture_intermediates`` inside ``jax.eval_shape``; the names are the module names
  the families give their layers (conv1, pool1, fc6, ...). Dropout layers are left out.
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  variables = init_shapes(net, shape)
  order: list[tuple[str, tuple[int, ...]]] = []

  def forward(variables, x):
    _, state = net.apply(variables, x, train=False, capture_intermediates=lambda mdl, _: len(mdl.path) == 1,
                         mutable=["intermediates"])
    for name, value in state["intermediates"].items():  # insertion order = call order
      out = value[0] if isinstance(value, tuple) else value
      order.append((name, tuple(jax.tree.leaves(out)[0].shape[1:])))
    return None

  jax.eval_shape(forward, variables, jax.ShapeDtypeStruct((1, *shape), jnp.float32))
  params = variables["params"]
  layers = [Layer("input", shape, 0, 0)] if include_input else []
  for name, out_shape in order:
    if name.startswith("Dropout") or name == "__call__":
      continue
    weights, biases = _split_params(params.get(name, {}))
    layers.append(Layer(name, out_shape, weights, biases))
  return layers


# ---------------------------------------------------------------------------------------------
# Multiply-accumulate counting from the jaxpr.


def _conv_macs(eqn) -> int:
  rhs = eqn.invars[1].aval
  out = eqn.outvars[0].aval
  # rhs_spec = (out feature dim, in feature dim, *spatial dims) of the kernel; the kernel's input
  # feature dimension is already the per-group count for grouped / depthwise convolutions.
  rhs_spec = eqn.params["dimension_numbers"].rhs_spec
  window = math.prod(rhs.shape[d] for d in rhs_spec[2:])
  in_per_group = rhs.shape[rhs_spec[1]]
  return int(math.prod(out.shape)) * window * in_per_group


def _dot_macs(eqn) -> int:
  lhs = eqn.invars[0].aval
  out = eqn.outvars[0].aval
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  contracted = math.prod(lhs.shape[d] for d in lhs_contract)
  return int(math.prod(out.shape)) * contracted


def _jaxpr_macs(jaxpr, counted: dict[str, int]) -> int:
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "conv_general_dilated":
      macs = _conv_macs(eqn)
      counted["conv"] = counted.get("conv", 0) + macs
      total += macs
    elif name == "dot_general":
      macs = _dot_macs(eqn)
      counted["dot"] = counted.get("dot", 0) + macs
      total += macs
    else:
      multiplier = eqn.params.get("length", 1) if name == "scan" else 1
      for sub in _subjaxprs(eqn):
        total += multiplier * _jaxpr_macs(sub, counted)
  return total


def _subjaxprs(eqn):
  """The jaxprs nested in an equation's parameters (pjit, scan, remat, custom_jvp, cond, ...)."""
  for value in eqn.params.values():
    for v in value if isinstance(value, (tuple, list)) else (value,):
      if hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
        yield v.jaxpr
      elif hasattr(v, "eqns"):
        yield v


def count_macs(model: nn.Module | str, input_shape: Sequence[int] | None = None, batch: int = 1,
               fn: Callable | None = None, **kwargs) -> int:
  """Multiply-accumulates of the convolutions and matrix products of one eval-mode forward pass.

  Counts ``conv_general_dilated`` as output elements x kernel window x input channels per group
  (padding included, as the papers and torchvision count) and ``dot_general`` as output elements
  x contracted size. Batch norm, activations and pooling are not counted. Scans count ``length``
  times. Runs on the jaxpr only: nothing is compiled.
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  x = jax.ShapeDtypeStruct((batch, *shape), jnp.float32)
  variables = init_shapes(net, shape, batch)
  forward = fn or (lambda v, x: net.apply(v, x, train=False))
  # Traced outside cs231n_jax.cpu.compiling_for("cpu"): the model's own arithmetic, as plain Flax
  # writes it (none of the CPU rewrites' padding).
  closed = jax.make_jaxpr(forward)(variables, x)
  return _jaxpr_macs(closed.jaxpr, {})


def xla_flops(model: nn.Module | str, input_shape: Sequence[int] | None = None, batch: int = 1,
              compiled: bool = False, **kwargs) -> float:
  """FLOPs of one eval-mode forward pass by XLA's cost analysis.

  ``compiled=False`` analyses the lowered (unoptimised) HLO: no compilation, seconds even for
  VGG-16. ``compiled=True`` compiles for this machine's backend and analyses the optimised HLO
  (slow for the 224x224 models on a CPU; the docs table uses it on request).
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  variables = init_shapes(net, shape, batch)
  x = jax.ShapeDtypeStruct((batch, *shape), jnp.float32)
  lowered = jax.jit(lambda v, x: net.apply(v, x, train=False)).lower(variables, x)  # plain Flax (see count_macs)
  analysis = lowered.compile().cost_analysis() if compiled else lowered.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX returned one dict per device
    analysis = analysis[0]
  return float(analysis["flops"])


# ---------------------------------------------------------------------------------------------
# Lecture 9's tables, regenerated from the models.

# The slide's totals for VGG-16 (seed lines 13133-13135): "TOTAL memory: 24M x 4 bytes ~= 96MB / image"
# is an arithmetic error; "TOTAL params: 138M" is right.
VGG16_SLIDE_MEMORY = 24_000_000


def vgg_memory_table(depth: int = 16, input_shape: Sequence[int] = (224, 224, 3)) -> list[Layer]:
  """Lecture 9's VGG table: every layer's output (memory, in values) and weights (no biases).

  The adaptive 7x7 pool before fc6 is the identity at 224x224 and not a layer of the paper's
  network, so it is left out, as on the slide. For VGG-16 the memory column sums to 15,237,608
  values (61 MB in float32 for one forward pass), not the slide's "24M" (96 MB); the weights sum to
  138,344,128 (138,357,544 with the 13,416 biases).
  """
  from cs231n_jax.models.vgg import VGG

  layers = layer_outputs(VGG(depth=depth), input_shape)
  return [layer for layer in layers if not (layer.name == "avgpool" and layer.output_shape[:2] == (7, 7))]


def table_totals(layers: Sequence[Layer]) -> dict[str, int]:
  return {"activations": sum(l.activations for l in layers), "weights": sum(l.weights for l in layers),
          "biases": sum(l.biases for l in layers)}


def layer_table_markdown(layers: Sequence[Layer]) -> str:
  """A markdown table: layer, output shape, memory (values), weights, biases; with totals."""
  lines = ["| layer | output | memory (values) | weights | biases |", "|---|---|---:|---:|---:|"]
  for l in layers:
    shape = "x".join(map(str, l.output_shape))
    lines.append(f"| {l.name} | [{shape}] | {l.activations:,} | {l.weights:,} | {l.biases:,} |")
  t = table_totals(layers)
  lines.append(f"| **total** | | **{t['activations']:,}** | **{t['weights']:,}** | **{t['biases']:,}** |")
  return "\n".join(lines)


# Lecture 9's Inception example: a 28x28x256 input, naive branches 1x1 128 / 3x3 192 / 5x5 96 /
# pool, and the same with 64-wide 1x1 bottlenecks (and a 64-wide pool projection).
INCEPTION_EXAMPLE_INPUT = (28, 28, 256)
INCEPTION_NAIVE = (128, 0, 192, 0, 96, 0)
INCEPTION_BOTTLENECK = (128, 64, 192, 64, 96, 64)
INCEPTION_SLIDE_TOTALS = {"naive": 854_000_000, "bottleneck": 358_000_000}  # "854M", "358M" (the latter wrong)


def inception_example() -> dict[str, dict[str, int]]:
  """The lecture's naive vs bottleneck Inception module, counted twice: by the slide's formula
  (:func:`googlenet.inception_module_macs`) and from the Flax module's jaxpr (:func:`count_macs`);
  also the output shape (28x28x672 naive, 28x28x480 with bottlenecks)."""
  from cs231n_jax.models import googlenet

  h, w, c = INCEPTION_EXAMPLE_INPUT
  out = {}
  for kind, widths in (("naive", INCEPTION_NAIVE), ("bottleneck", INCEPTION_BOTTLENECK)):
    naive = kind == "naive"
    module = googlenet.InceptionModule(widths, naive=naive)
    terms = googlenet.inception_module_macs(h, w, c, widths, naive)
    measured = count_macs(module, INCEPTION_EXAMPLE_INPUT, fn=lambda v, x, m=module: m.apply(v, x))
    variables = init_shapes(module, INCEPTION_EXAMPLE_INPUT)
    shape = jax.eval_shape(lambda v, x, m=module: m.apply(v, x), variables,
                           jax.ShapeDtypeStruct((1, *INCEPTION_EXAMPLE_INPUT), jnp.float32)).shape[1:]
    out[kind] = {**terms, "total": sum(terms.values()), "jaxpr_total": measured, "output_channels": shape[-1]}
  return out


# ---------------------------------------------------------------------------------------------
# FLOPs and timing tables.


def flops_row(name: str, compiled: bool = False, batch: int = 1) -> dict[str, Any]:
  """One row of the docs table: published GMACs, counted GMACs, XLA GFLOPs (lowered / compiled)."""
  shape = default_input_shape(name)
  net = get_model(name)
  row = {"model": name, "input": "x".join(map(str, shape)), "params": param_count(net, shape),
         "published_gmacs": PUBLISHED_GMACS.get(name), "counted_gmacs": count_macs(net, shape) / GIGA}
  row["xla_gflops_lowered"] = xla_flops(net, shape, batch) / GIGA / batch
  if compiled:
    t0 = time.perf_counter()
    row["xla_gflops_compiled"] = xla_flops(net, shape, batch, compiled=True) / GIGA / batch
    row["compile_s"] = time.perf_counter() - t0
  return row


def flops_markdown(rows: Sequence[dict[str, Any]]) -> str:
  compiled = any("xla_gflops_compiled" in r for r in rows)
  head = "| model | input | params | published GMACs | counted GMACs | XLA GFLOPs (lowered) | ratio to published |"
  sep = "|---|---|---:|---:|---:|---:|---:|"
  if compiled:
    head += " XLA GFLOPs (compiled, CPU) |"
    sep += "---:|"
  lines = [head, sep]
  for r in rows:
    pub = r["published_gmacs"]
    ratio = f"{r['xla_gflops_lowered'] / pub:.3f}" if pub else "—"
    line = (f"| {r['model']} | {r['input']} | {r['params']:,} | {pub if pub is not None else '—'} | "
            f"{r['counted_gmacs']:.3f} | {r['xla_gflops_lowered']:.3f} | {ratio} |")
    if compiled:
      line += f" {r['xla_gflops_compiled']:.3f} |" if "xla_gflops_compiled" in r else " — |"
    lines.append(line)
  return "\n".join(lines)


def compile_and_step_time(model: nn.Module, input_shape: Sequence[int], batch: int, steps: int = 5,
                          learning_rate: float = 0.01, seed: int = 0) -> dict[str, float]:
  """Compile time and median step time of one SGD train step (``jax.jit``) for ``model``.

  The step is the usual one: softmax cross-entropy, gradients, an SGD update, batch statistics
  updated. Timings use ``block_until_ready``; the first call (compilation) is reported separately.
  The step is plain Flax (models know nothing of the CPU work in ``cs231n_jax.cpu``, which the
  engine's steps get on CPU devices).
  """
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal((batch, *input_shape)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, batch), jnp.int32)
  variables = model.init({"params": jax.random.PRNGKey(seed), "dropout": jax.random.PRNGKey(seed + 1)}, x[:1])
  params, state = variables["params"], {k: v for k, v in variables.items() if k != "params"}
  opt_state = ()  # plain SGD (written out: models know no optimizer library)

  def step(params, state, opt_state, x, y, key):
    def loss_fn(p):
      logits, new_state = model.apply({"params": p, **state}, x, train=True, mutable=list(state),
                                      rngs={"dropout": key})
      log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
      return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=-1)), new_state
    (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), new_state, opt_state, loss

  t0 = time.perf_counter()
  compiled = jax.jit(step).lower(params, state, opt_state, x, y, jax.random.PRNGKey(0)).compile()
  compile_s = time.perf_counter() - t0
  times = []
  for i in range(steps + 1):
    t0 = time.perf_counter()
    params, state, opt_state, loss = compiled(params, state, opt_state, x, y, jax.random.PRNGKey(i))
    jax.block_until_ready(loss)
    times.append(time.perf_counter() - t0)
  return {"compile_s": compile_s, "first_step_s": times[0], "step_s": float(np.median(times[1:]))}


def main(argv: Sequence[str] | None = None) -> int:
  """``python -m cs231n_jax.models.analysis {params,vgg,inception,flops,compile}``: print markdown tables."""
  parser = argparse.ArgumentParser(prog="python -m cs231n_jax.models.analysis", description=__doc__.splitlines()[0])
  sub = parser.add_subparsers(dest="command", required=True)
  p = sub.add_parser("params", help="parameter counts of registered models")
  p.add_argument("--models", default="", help="comma-separated names (default: all)")
  p = sub.add_parser("vgg", help="lecture 9's VGG memory / parameter table")
  p.add_argument("--depth", type=int, default=16)
  sub.add_parser("inception", help="lecture 9's naive vs bottleneck Inception module op counts")
  p = sub.add_parser("flops", help="published MACs vs counted MACs vs XLA cost analysis")
  p.add_argument("--models", default="resnet18,resnet50,vgg16")
  p.add_argument("--compiled", action="store_true", help="also compile each forward pass (slow on a CPU)")
  p = sub.add_parser("compile", help="train-step compile and step time: plain vs scan_blocks vs remat")
  p.add_argument("--models", default="resnet56,resnet110")
  p.add_argument("--variants", default="plain,scan_blocks,remat,scan_blocks+remat")
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--steps", type=int, default=5)
  args = parser.parse_args(argv)
  if args.command == "params":
    names = [n for n in args.models.split(",") if n] or list(list_models("classify"))
    print("| model | input | parameters |\n|---|---|---:|")
    for name in names:
      print(f"| {name} | {'x'.join(map(str, default_input_shape(name)))} | {param_count(name):,} |")
  elif args.command == "vgg":
    layers = vgg_memory_table(args.depth)
    print(layer_table_markdown(layers))
    t = table_totals(layers)
    print(f"\nforward memory: {t['activations']:,} values x {FLOAT32_BYTES} bytes = "
          f"{t['activations'] * FLOAT32_BYTES / 1e6:.1f} MB per image (the slide says 24M / 96MB)")
  elif args.command == "inception":
    for kind, counts in inception_example().items():
      print(f"{kind}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
  elif args.command == "compile":
    print(f"| model | variant | compile (s) | first step (s) | step (ms) | (batch {args.batch}, {jax.default_backend()}) |")
    print("|---|---|---:|---:|---:|---|")
    for name in args.models.split(","):
      for variant in args.variants.split(","):
        options = {} if variant == "plain" else {opt: True for opt in variant.split("+")}
        t = compile_and_step_time(get_model(name, **options), default_input_shape(name), args.batch, args.steps)
        print(f"| {name} | {variant} | {t['compile_s']:.1f} | {t['first_step_s']:.2f} | {1e3 * t['step_s']:.0f} | |",
              flush=True)
  else:
    rows = []
    for name in args.models.split(","):
      t0 = time.perf_counter()
      rows.append(flops_row(name, compiled=args.compiled))
      print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(flops_markdown(rows))
  return 0


if __name__ == "__main__":
  sys.exit(main())
