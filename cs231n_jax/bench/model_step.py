"""Benchmark any registered model's train or eval step, or any function, with the harness.

    cs231n-jax bench model --model resnet20 --step train --batch 128
    cs231n-jax bench fn --fn cs231n_jax.generative.pixelcnn:sampler_benchmark

``--fn module:function`` names a function returning ``(fn, args)`` (e.g. a jitted sampler and its
inputs); it is measured as-is.
"""

from __future__ import annotations

import importlib

import numpy as np

from cs231n_jax.bench.harness import Record, measure_jax

STEPS = ("train", "eval")


def model_step(name: str, step: str = "train", batch: int = 128, n_runs: int = 10,
               peak: float | None = None, input_shape=None) -> Record:
  import optax

  from cs231n_jax.models import default_input_shape, get_model
  from cs231n_jax.tasks.classification import eval_step
  from cs231n_jax.tasks.classification import plain_train_step as train_step
  from cs231n_jax.train.state import create_train_state

  if step not in STEPS:
    raise ValueError(f"--step: expected one of {STEPS}, got {step!r}")
  shape = tuple(input_shape or default_input_shape(name))
  model = get_model(name)
  x = np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32)
  data = {"image": x, "label": np.arange(batch, dtype=np.int32) % getattr(model, "num_classes", 10),
          "mask": np.ones(batch, np.float32)}
  state = create_train_state(model, optax.sgd(0.01, momentum=0.9), x[:1], seed=0)
  params = {"model": name, "step": step, "batch": batch, "input_shape": shape}
  if step == "train":
    return measure_jax(train_step, (state, data), study="model", variant=f"{name} train step", carry=True,
                       donate_argnums=(0,), n_runs=n_runs, peak_flops_per_s=peak, params=params)
  return measure_jax(eval_step, (state, data), study="model", variant=f"{name} eval step", n_runs=n_runs,
                     peak_flops_per_s=peak, params=params)


def function(spec: str, n_runs: int = 10, peak: float | None = None) -> Record:
  module_name, sep, fn_name = spec.partition(":")
  if not sep:
    raise ValueError(f"--fn: expected 'module:function', got {spec!r}")
  fn, args = getattr(importlib.import_module(module_name), fn_name)()
  return measure_jax(fn, args, study="fn", variant=spec, n_runs=n_runs, peak_flops_per_s=peak)
