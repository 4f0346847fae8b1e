"""Devices, meshes, multi-host start-up and moving pytrees between host and devices.

The default layout is data parallel over a ``('data',)`` mesh of every device of every process:
batches are sharded along their first axis, the TrainState is replicated. The same code runs on
one CPU, on 8 simulated CPU devices in the tests, on a GPU, and on every host of a TPU pod slice.

Multi-host start-up (:func:`initialize`) decides from the environment whether this is one of
several processes, and how they find each other (:func:`distributed_mode`):

- ``manual``: a coordinator is named (``--coordinator`` or ``CS231N_JAX_COORDINATOR``, with the
  process count and id): processes on one machine or hosts without a scheduler; CPU collectives
  go through gloo.
- ``tpu``: a multi-host Cloud TPU slice. On a TPU VM created with gcloud (``tpu-vm create`` or a
  queued resource) nothing is in the environment, so the TPU VM metadata server is asked for the
  slice's worker list (only where TPU chips are present on the PCI bus, with a short timeout);
  on GKE ``TPU_WORKER_HOSTNAMES`` / ``TPU_PROCESS_ADDRESSES`` list the hosts, and multislice
  jobs set ``MEGASCALE_NUM_SLICES``.
- ``slurm``: a task started by ``srun`` in a job of several tasks.
- ``mpi``: a rank started by Open MPI's ``mpirun`` with several ranks.
- ``single``: anything else (a laptop, a single-host TPU VM, Colab): nothing is started.

Every mode but ``manual`` and ``single`` calls ``jax.distributed.initialize()`` without arguments
and lets JAX's own cluster detection read the topology. ``CS231N_JAX_DISTRIBUTED=off`` forces
``single`` where detection gets it wrong.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import urllib.request
from typing import Any, Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cs231n_jax.errors import ConfigError

DATA_AXIS = "data"
# Manual multi-process launches (several processes on one machine, or hosts without a cluster
# scheduler) name the coordinator and this process with these variables or the CLI flags.
ENV_COORDINATOR = "CS231N_JAX_COORDINATOR"
ENV_NUM_PROCESSES = "CS231N_JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "CS231N_JAX_PROCESS_ID"
# "off" (or "0", "false", "single") turns the cluster detection below off: one process.
ENV_DISTRIBUTED = "CS231N_JAX_DISTRIBUTED"
OFF_VALUES = ("0", "off", "false", "no", "single")

MODE_MANUAL, MODE_TPU, MODE_SLURM, MODE_MPI, MODE_SINGLE = "manual", "tpu", "slurm", "mpi", "single"

# Set by GKE on every host of a multi-host TPU slice (JAX's GkeTpuCluster reads the same two).
TPU_HOSTS_ENV = "TPU_WORKER_HOSTNAMES"
TPU_PROCESS_ADDRESSES_ENV = "TPU_PROCESS_ADDRESSES"
# Set for multislice jobs (GKE JobSet; on queued resources JAX reads it from the metadata).
MEGASCALE_SLICES_ENV = "MEGASCALE_NUM_SLICES"
# What JAX's SlurmCluster needs: a task launched by srun, in a job of SLURM_NTASKS tasks.
SLURM_JOB_ENV = "SLURM_JOB_ID"
SLURM_NTASKS_ENV = "SLURM_NTASKS"
SLURM_STEP_ENVS = ("SLURM_STEP_NODELIST", "SLURM_PROCID", "SLURM_LOCALID")
# Open MPI's world size; JAX's OmpiCluster finds the launcher through OMPI_MCA_orte_hnp_uri
# (Open MPI 4); Open MPI 5 has no such variable, and then mpi4py is asked instead.
OMPI_SIZE_ENV = "OMPI_COMM_WORLD_SIZE"
OMPI_URI_ENV = "OMPI_MCA_orte_hnp_uri"
# The TPU VM metadata server: the same key and header JAX's GceTpuCluster uses for the worker list.
METADATA_IP_ENV = "GCE_METADATA_IP"
METADATA_HOST = "metadata.google.internal"
TPU_WORKERS_METADATA_KEY = "worker-network-endpoints"
METADATA_TIMEOUT_S = 5.0
# JAX sets this on import where no TPU chip is present; a user may set it to skip the query.
SKIP_METADATA_ENV = "TPU_SKIP_MDS_QUERY"

_initialized = False


def _count(value: str | None) -> int:
  return len([h for h in (value or "").split(",") if h.strip()])


def _int(env: Mapping[str, str], name: str, default: int = 1) -> int:
  value = env.get(name) or default  # unset or empty: the default
  try:
    return int(value)
  except ValueError:
    raise ConfigError(f"{name}: expected an integer, got {env.get(name)!r}") from None


def distributed_mode(env: Mapping[str, str] | None = None, tpu_hosts: int | None = None) -> str:
  """How this process joins the others: ``"manual"``, ``"tpu"``, ``"slurm"``, ``"mpi"`` or ``"single"``.

  A pure function of the environment ``env`` (default ``os.environ``) and of ``tpu_hosts``, the
  number of hosts in this TPU slice as the TPU VM metadata reports it (:func:`tpu_vm_host_count`;
  ``None`` off a TPU VM). The order: a named coordinator, then ``CS231N_JAX_DISTRIBUTED=off``,
  then a multi-host TPU slice, SLURM, Open MPI; otherwise ``"single"``.
  """
  env = os.environ if env is None else env
  if env.get(ENV_COORDINATOR):
    return MODE_MANUAL
  if env.get(ENV_DISTRIBUTED, "").strip().lower() in OFF_VALUES:
    return MODE_SINGLE
  gke_hosts = _count(env.get(TPU_PROCESS_ADDRESSES_ENV) or env.get(TPU_HOSTS_ENV))
  if gke_hosts > 1 or _int(env, MEGASCALE_SLICES_ENV) > 1 or (tpu_hosts or 0) > 1:
    return MODE_TPU
  if (SLURM_JOB_ENV in env and _int(env, SLURM_NTASKS_ENV) > 1
      and all(k in env for k in SLURM_STEP_ENVS)):
    return MODE_SLURM
  if _int(env, OMPI_SIZE_ENV) > 1:
    return MODE_MPI
  return MODE_SINGLE


def _tpu_chips_present() -> bool:
  """Whether this machine has TPU chips on its PCI bus (a file read, no network)."""
  try:
    from jax._src import hardware_utils  # JAX's own check: Google's PCI vendor and TPU device ids
    return hardware_utils.num_available_tpu_chips_and_device_id()[0] > 0
  except Exception:  # noqa: BLE001 -- a private module that may move: fall back on the device files
    return os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0")


def _tpu_metadata(key: str, env: Mapping[str, str], timeout_s: float) -> str:
  host = env.get(METADATA_IP_ENV, METADATA_HOST)
  request = urllib.request.Request(f"http://{host}/computeMetadata/v1/instance/attributes/{key}",
                                   headers={"Metadata-Flavor": "Google"})
  with urllib.request.urlopen(request, timeout=timeout_s) as response:
    return response.read().decode()


def tpu_vm_host_count(env: Mapping[str, str] | None = None,
                      timeout_s: float = METADATA_TIMEOUT_S) -> int | None:
  """The number of hosts in this Cloud TPU slice, or ``None`` off a TPU VM or when unknown.

  Asks the metadata server only where TPU chips are present and ``TPU_SKIP_MDS_QUERY`` is unset,
  with a ``timeout_s`` bound: a plain machine never waits, a single-host TPU VM gets 1.
  """
  env = os.environ if env is None else env
  if env.get(SKIP_METADATA_ENV) or not _tpu_chips_present():
    return None
  try:
    return _count(_tpu_metadata(TPU_WORKERS_METADATA_KEY, env, timeout_s)) or None
  except OSError as e:  # no metadata server, or no worker list (not a Cloud TPU VM slice)
    logging.warning("TPU chips found but the TPU VM metadata gave no worker list (%s): "
                    "running as a single process", e)
    return None


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Start ``jax.distributed`` when this is one of several processes; otherwise do nothing.

  Arguments win over the ``CS231N_JAX_*`` variables; without a coordinator the launcher is
  detected (:func:`distributed_mode`) and ``jax.distributed.initialize()`` reads the topology
  itself: on every host of a multi-host Cloud TPU slice (gcloud or GKE), in SLURM and Open MPI
  jobs. Named-coordinator CPU processes exchange collectives with gloo. Must run before anything
  touches a device; calling it again is a no-op.
  """
  global _initialized
  if _initialized:
    return
  env = os.environ
  coordinator = coordinator or env.get(ENV_COORDINATOR)
  if num_processes is None and env.get(ENV_NUM_PROCESSES):
    num_processes = _int(env, ENV_NUM_PROCESSES)
  if process_id is None and env.get(ENV_PROCESS_ID):
    process_id = _int(env, ENV_PROCESS_ID)
  if coordinator:
    mode = MODE_MANUAL
  else:
    mode = distributed_mode(env)
    if mode == MODE_SINGLE and env.get(ENV_DISTRIBUTED, "").strip().lower() not in OFF_VALUES:
      mode = distributed_mode(env, tpu_hosts=tpu_vm_host_count(env))
  if mode == MODE_MANUAL:
    if num_processes is None or process_id is None:
      raise ConfigError("--num-processes/--process-id: both are needed with --coordinator")
    if not 0 <= process_id < num_processes:
      raise ConfigError(f"--process-id: expected 0 <= id < {num_processes}, got {process_id}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
  elif mode == MODE_MPI and OMPI_URI_ENV not in env:
    if importlib.util.find_spec("mpi4py") is None:  # JAX's Mpi4pyCluster imports it
      raise ConfigError(f"{OMPI_SIZE_ENV}={env[OMPI_SIZE_ENV]} without {OMPI_URI_ENV} (Open MPI 5): "
                        "install mpi4py, or pass --coordinator/--num-processes/--process-id")
    jax.distributed.initialize(cluster_detection_method="mpi4py")
  elif mode != MODE_SINGLE:
    jax.distributed.initialize()
  elif _int(env, SLURM_NTASKS_ENV) > 1 and SLURM_JOB_ENV in env:
    logging.warning("SLURM_NTASKS > 1 but this process was not started by srun: one process")
  _initialized = True
  logging.info("%s start-up: process %d of %d, %d local / %d global devices", mode,
               jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count())


def reached_preemption(step: int) -> bool:
  """Whether every process should save now because one of them was told it will be preempted.

  With several processes, the hosts agree through orbax's preemption sync point (JAX's
  preemption service: when any host gets SIGTERM, all of them return True at the same ``step``,
  so they save the same checkpoint); call it at every step, with the same ``step`` on every host.
  One process: always ``False`` (its own SIGTERM handler decides).
  """
  if jax.process_count() == 1:
    return False
  from cs231n_jax.train import checkpoint  # the only module that imports orbax

  return checkpoint.reached_preemption(step)


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
