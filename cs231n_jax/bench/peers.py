"""The CPU goal — a training step of the same network in Flax/JAX and in PyTorch eager, one run.

For each model (the course's ThreeLayerConvNet, the VGG-style ``small_vgg``, the CIFAR ResNets),
batch 128 of 32x32x3 images: forward, softmax cross-entropy, backward, SGD with momentum 0.9.
Before timing, the PyTorch peer's random weights are converted onto the Flax model and both losses
are compared, so both sides compute the same function. Both get this machine's CPU threads. The
fraction of peak uses XLA's FLOP count of the step for both and the float32 matmul peak measured
in the same run. Two more variants undo the library's CPU work: the same Flax step with XLA's own
convolutions and Flax's batch norm (before :mod:`cs231n_jax.cpu.kernels`), and with XLA's default flags and
convolution and max-pool lowering (before :mod:`cs231n_jax.cpu.xla_flags` and
:mod:`cs231n_jax.cpu.rewrites`). The four take turns
step by step (:func:`~cs231n_jax.bench.harness.measure_interleaved`), so a shared machine's load
hits them alike.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.bench.harness import Record, measure_interleaved, prepare_jax, prepare_python
from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.cpu import rewrites, xla_flags

MODELS = ("three_layer_convnet", "small_vgg", "resnet20", "resnet56")
MODEL_KWARGS = {"three_layer_convnet": {"filter_size": 7}}  # the course's defaults: 32 7x7 filters, 100 hidden
BATCH = 128
LEARNING_RATE, MOMENTUM = 0.01, 0.9


def make_batch(batch: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((batch, 32, 32, 3)).astype(np.float32)
  y = rng.integers(0, 10, batch).astype(np.int32)
  return x, y


def flax_state_from_torch(name: str, torch_model):
  """A TrainState whose parameters are the torch peer's weights (SGD momentum 0.9)."""
  import optax

  from cs231n_jax.convert.pytorch import convert_state_dict
  from cs231n_jax.models import get_model
  from cs231n_jax.train.state import TrainState

  model = get_model(name, **MODEL_KWARGS.get(name, {}))
  variables = convert_state_dict(torch_model.state_dict(), model, input_shape=(32, 32, 3))
  params = variables["params"]
  model_state = {"batch_stats": variables["batch_stats"]} if "batch_stats" in variables else {}
  tx = optax.sgd(LEARNING_RATE, momentum=MOMENTUM)
  params = jax.tree.map(jnp.asarray, params)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, model_state=jax.tree.map(jnp.asarray, model_state),
                    opt_state=tx.init(params), rng=jax.random.PRNGKey(0), apply_fn=model.apply, tx=tx)


def check_same_function(name: str, torch_model, state, x, y, rtol: float = 1e-4) -> float:
  """Relative difference of the two training-mode losses on the same batch."""
  import torch

  from cs231n_jax.tasks.classification import plain_train_step as train_step

  torch_model.train()
  with torch.no_grad():
    logits = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    t_loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y.astype(np.int64))))
  _, metrics = jax.jit(train_step)(state, {"image": x, "label": y, "mask": np.ones(len(y), np.float32)})
  rel = abs(float(metrics["loss"]) - t_loss) / abs(t_loss)
  if rel > rtol:
    raise AssertionError(f"peers: {name}: PyTorch loss {t_loss} vs Flax {float(metrics['loss'])} (rel {rel:.1e})")
  return rel


def run(models=MODELS, batch: int = BATCH, n_runs: int = 10, peak: float | None = None) -> list[Record]:
  import torch

  from cs231n_jax.bench import torch_peers
  from cs231n_jax.tasks.classification import plain_train_step as train_step

  threads = os.cpu_count()
  torch.set_num_threads(threads)
  records = []
  for name in models:
    torch.manual_seed(0)
    tm = torch_peers.build(name)
    state = flax_state_from_torch(name, tm)
    x, y = make_batch(batch)
    rel = check_same_function(name, tm, state, x, y)
    params = {"model": name, "batch": batch, "threads": threads, "loss_rel_diff": rel}
    data = {"image": jnp.asarray(x), "label": jnp.asarray(y), "mask": jnp.ones(batch)}
    xla_defaults = {"compiler_options": xla_flags.xla_default_compiler_options()}

    def flax_step(label, jit_kwargs=None):
      # A fresh function and state per variant: JAX caches traces by function, and steps donate.
      return prepare_jax(lambda *a: train_step(*a), (flax_state_from_torch(name, tm), data), study="peers",
                         variant=f"{name} Flax/JAX jit{label}", carry=True, donate_argnums=(0,),
                         peak_flops_per_s=peak, params=params, jit_kwargs=jit_kwargs)

    # Before the library's conv / pool rewrites (cs231n_jax.cpu.rewrites) as well: XLA's default lowering.
    with rewrites.xla_default_lowering():
      before = flax_step(", XLA defaults (flags, conv/pool)", xla_defaults)
    # Before the CPU kernels: XLA's convolutions as the rewrites write them, Flax's batch norm.
    with cpu_kernels.disabled():
      xla_convs = flax_step(", without the CPU kernels")
    jax_prepared = flax_step("")
    # Every variant is credited with the model's arithmetic (XLA's count of the default lowering):
    # not with the zero channel the even-channel convolution adds, and XLA cannot count inside the
    # kernels' custom calls.
    flops = jax_prepared[0].flops = xla_convs[0].flops = before[0].flops
    opt = torch.optim.SGD(tm.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    tx_, ty_ = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y.astype(np.int64))

    def torch_step():
      opt.zero_grad(set_to_none=True)
      torch.nn.functional.cross_entropy(tm(tx_), ty_).backward()
      opt.step()

    torch_prepared = prepare_python(torch_step, study="peers", variant=f"{name} PyTorch eager", framework="torch",
                                    flops=flops, peak_flops_per_s=peak, params=params)
    records += measure_interleaved([jax_prepared, torch_prepared, xla_convs, before], n_runs=n_runs)
  return records
