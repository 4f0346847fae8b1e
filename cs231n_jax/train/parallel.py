"""Devices, meshes, multi-host start-up and moving pytrees between host and devices.

The default layout is data parallel over a ``('data',)`` mesh of every device of every process:
batches are sharded along their first axis, the TrainState is replicated. The same code runs on
one CPU, on 8 simulated CPU devices in the tests, on a GPU, and on every host of a TPU pod slice.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from cs231n_jax.errors import ConfigError

DATA_AXIS = "data"
# Manual multi-process launches (several processes on one machine, or hosts without a cluster
# scheduler) name the coordinator and this process with these variables or the CLI flags.
ENV_COORDINATOR = "CS231N_JAX_COORDINATOR"
ENV_NUM_PROCESSES = "CS231N_JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "CS231N_JAX_PROCESS_ID"
# Set by Cloud TPU on every host of a multi-host slice.
TPU_HOSTS_ENV = "TPU_WORKER_HOSTNAMES"

_initialized = False


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Start ``jax.distributed`` when this is one of several processes; otherwise do nothing.

  Arguments win over the ``CS231N_JAX_*`` variables. On a multi-host Cloud TPU slice no argument
  is needed: JAX reads the topology from the TPU metadata. CPU processes exchange collectives
  with gloo. Must run before anything touches a device; calling it again is a no-op.
  """
  global _initialized
  if _initialized:
    return
  coordinator = coordinator or os.environ.get(ENV_COORDINATOR)
  if num_processes is None and os.environ.get(ENV_NUM_PROCESSES):
    num_processes = int(os.environ[ENV_NUM_PROCESSES])
  if process_id is None and os.environ.get(ENV_PROCESS_ID):
    process_id = int(os.environ[ENV_PROCESS_ID])
  if coordinator:
    if num_processes is None or process_id is None:
      raise ConfigError("--num-processes/--process-id: both are needed with --coordinator")
    if not 0 <= process_id < num_processes:
      raise ConfigError(f"--process-id: expected 0 <= id < {num_processes}, got {process_id}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
  elif len([h for h in os.environ.get(TPU_HOSTS_ENV, "").split(",") if h]) > 1:
    jax.distributed.initialize()
  _initialized = True
  logging.info("process %d of %d, %d local / %d global devices", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())


def data_mesh() -> Mesh:
  """A 1-D ``('data',)`` mesh over every device of every process."""
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def to_host(tree: Any) -> Any:
  """Numpy copies of a pytree of (possibly replicated, possibly multi-host) arrays.

  A replicated array that spans other processes is read from one of this process's shards.
  """

  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if not x.sharding.is_fully_replicated:
        raise ValueError(f"to_host: array of shape {x.shape} is sharded across processes, expected replicated")
      x = x.addressable_data(0)
    return np.asarray(x)

  return jax.tree.map(get, tree)


def put_replicated(tree: Any, mesh: Mesh) -> Any:
  """Host arrays → global arrays replicated over ``mesh`` (every process passes the same values)."""
  sharding = replicated(mesh)

  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

  return jax.tree.map(put, tree)


def put_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This process's rows of the global batch → one global array per key, sharded on ``data``."""
  sharding = batch_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local_batch.items()}


def check_batch_size(global_batch_size: int) -> None:
  """The global batch must split evenly over processes and devices."""
  n = jax.device_count()
  if global_batch_size % n:
    raise ConfigError(f"train.batch_size: {global_batch_size} is not divisible by the {n} devices")
