"""The CPU work acts only on programs compiled for the CPU: a ResNet-20 training step exported for a
TPU or a GPU from this CPU host is exactly the program plain Flax gives, while the engine's step
compiled for this host's CPU devices carries the rewrites."""

import re

import jax
import jax.numpy as jnp
import optax
import pytest

from cs231n_jax.cpu import compiling_for, rewrites, targets_cpu, traced_for
from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.models import get_model
from cs231n_jax.tasks.classification import classification_task, plain_train_step
from cs231n_jax.train.state import create_train_state
from cs231n_jax.train.steps import build_steps, engine_state


@pytest.fixture(scope="module")
def resnet20_step_args():
  # Shapes only (tracing and export need no values): eager initialisation of ResNet-20 is slow.
  state = jax.eval_shape(lambda: create_train_state(get_model("resnet20"), optax.sgd(0.1, momentum=0.9),
                                                    jnp.zeros((2, 32, 32, 3)), 0))
  batch = {"image": jax.ShapeDtypeStruct((8, 32, 32, 3), jnp.float32),
           "label": jax.ShapeDtypeStruct((8,), jnp.int32), "mask": jax.ShapeDtypeStruct((8,), jnp.float32)}
  return state, batch


def exported_text(args, platforms):
  """The StableHLO of a fresh jit of the step (JAX caches traces by function), without locations."""
  text = jax.export.export(jax.jit(lambda s, b: plain_train_step(s, b)), platforms=platforms)(*args).mlir_module()
  return re.sub(r"\s*loc\([^\n]*\)", "", text)


@pytest.mark.parametrize("platforms", [["tpu"], ["cuda"]])
def test_a_step_exported_for_an_accelerator_is_plain_flax(resnet20_step_args, platforms):
  with rewrites.xla_default_lowering():  # every CPU rewrite and kernel switched off
    plain = exported_text(resnet20_step_args, platforms)
  exported = exported_text(resnet20_step_args, platforms)
  assert exported == plain
  assert "custom_call" not in exported
  # No extra channel: the first convolution reads the 3 RGB channels (3x3x3x16 kernel), not 4.
  assert "tensor<3x3x3x16xf32>" in exported and "tensor<3x3x4x16xf32>" not in exported


def test_the_same_step_traced_for_the_cpu_carries_the_rewrites(resnet20_step_args):
  plain = exported_text(resnet20_step_args, ["cpu"])
  with compiling_for("cpu"):
    assert targets_cpu()
    rewritten = exported_text(resnet20_step_args, ["cpu"])
  assert not targets_cpu()
  assert rewritten != plain
  assert "custom_call" not in rewritten  # jax.export refuses custom calls: the kernels lower to XLA's own


def test_the_engine_compiles_its_cpu_step_with_the_kernels(resnet20_step_args):
  """build_steps traces for the platform of its devices: here the CPU, so the kernels' custom calls."""
  task_state, batch = resnet20_step_args
  steps = build_steps(classification_task(get_model("resnet20"), optax.sgd(0.1, momentum=0.9)), "jit", donate=False)
  text = steps.train.lower(engine_state(task_state, seed=0), batch).as_text()
  if cpu_kernels.in_use():
    assert "cs231n_conv2d" in text and "cs231n_batch_norm" in text
  else:  # no compiler on this machine: the XLA rewrites remain (the RGB input's zero channel)
    assert "tensor<3x3x4x16xf32>" in text


def test_traced_for_sets_the_platform_only_while_the_function_runs():
  seen = []
  traced_for("cpu", lambda: seen.append(targets_cpu()))()
  traced_for("tpu", lambda: seen.append(targets_cpu()))()
  assert seen == [True, False] and not targets_cpu()
