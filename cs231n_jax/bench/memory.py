"""Study 5 — ``nn.remat`` (activation recomputation) and buffer donation: memory vs time.

A CIFAR ResNet-56 training step (batch 128), four ways: with or without ``remat`` on every residual
block, with or without donating the old TrainState's buffers to the new one. XLA's memory analysis
of the compiled step gives the temporary bytes (activations kept for the backward pass) and the
argument/output bytes; the step time is measured. Remat should cut temporaries and cost time;
donation should let outputs alias inputs (output bytes no longer additional to arguments).

Study 6 — scan over layers vs unrolled: the same deep CIFAR ResNet with ``scan_blocks`` (the
identical blocks of each stage are one ``nn.scan``) vs the plain module, for compile time.
"""

from __future__ import annotations

import numpy as np

from cs231n_jax.bench.harness import Record, measure_jax

BATCH = 128




def setup(model_name: str, batch: int = BATCH, **model_kwargs):
  import optax

  from cs231n_jax.models import get_model
  from cs231n_jax.train.state import create_train_state

  model = get_model(model_name, **model_kwargs)
  x = np.random.default_rng(0).standard_normal((batch, 32, 32, 3)).astype(np.float32)
  data = {"image": x, "label": np.arange(batch, dtype=np.int32) % 10, "mask": np.ones(batch, np.float32)}
  state = create_train_state(model, optax.sgd(0.1, momentum=0.9), x[:1], seed=0)
  return state, data


def run_remat_donation(model_name: str = "resnet56", n_runs: int = 5, peak: float | None = None) -> list[Record]:
  from cs231n_jax.tasks.classification import plain_train_step as train_step

  records = []
  for remat in (False, True):
    for donate in (False, True):
      state, batch = setup(model_name, remat=remat)
      records.append(measure_jax(
          train_step, (state, batch), study="remat_donation",
          variant=f"{model_name} remat={remat} donate={donate}", carry=True,
          donate_argnums=(0,) if donate else (), n_runs=n_runs, peak_flops_per_s=peak,
          params={"model": model_name, "batch": BATCH, "remat": remat, "donate": donate}))
  return records


def run_scan_layers(model_names=("resnet56", "resnet110"), n_runs: int = 3, peak: float | None = None) -> list[Record]:
  from cs231n_jax.tasks.classification import plain_train_step as train_step

  records = []
  for name in model_names:
    for scan in (False, True):
      state, batch = setup(name, scan_blocks=scan)
      records.append(measure_jax(
          train_step, (state, batch), study="scan_layers", variant=f"{name} {'scan over blocks' if scan else 'unrolled'}",
          carry=True, donate_argnums=(0,), n_runs=n_runs, peak_flops_per_s=peak,
          params={"model": name, "batch": BATCH, "scan_blocks": scan}))
  return records
