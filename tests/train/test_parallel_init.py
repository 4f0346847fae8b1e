"""Multi-host start-up: which launcher each cluster's environment means, and what initialize() calls.

The environments are the variables each launcher sets (as JAX's own cluster detection reads them);
nothing here starts jax.distributed: ``jax.distributed.initialize`` is replaced by a recorder.
"""

import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.train import checkpoint, parallel

LAPTOP = {"HOME": "/home/me", "PATH": "/usr/bin"}
MANUAL = {parallel.ENV_COORDINATOR: "10.0.0.1:1234", parallel.ENV_NUM_PROCESSES: "2",
          parallel.ENV_PROCESS_ID: "1"}
GKE_TPU = {"TPU_WORKER_HOSTNAMES": "w-0.svc,w-1.svc,w-2.svc,w-3.svc", "TPU_WORKER_ID": "2",
           "TPU_ACCELERATOR_TYPE": "v5litepod-16"}
GKE_TPU_SINGLE_HOST = {"TPU_WORKER_HOSTNAMES": "localhost", "TPU_WORKER_ID": "0",
                       "TPU_ACCELERATOR_TYPE": "v5litepod-8"}
MULTISLICE = {"MEGASCALE_NUM_SLICES": "2", "MEGASCALE_SLICE_ID": "1",
              "MEGASCALE_COORDINATOR_ADDRESS": "10.0.0.2"}
SLURM = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "8", "SLURM_STEP_NODELIST": "gpu[001-002]",
         "SLURM_PROCID": "3", "SLURM_LOCALID": "3"}
SLURM_ONE_TASK = dict(SLURM, SLURM_NTASKS="1", SLURM_PROCID="0", SLURM_LOCALID="0")
SLURM_BATCH_SCRIPT = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "8"}  # sbatch without srun: one process
OMPI = {"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
        "OMPI_MCA_orte_hnp_uri": "1531576320.0;tcp://10.96.0.1,10.148.0.1:34911"}
OMPI_ONE_RANK = dict(OMPI, OMPI_COMM_WORLD_SIZE="1", OMPI_COMM_WORLD_RANK="0")


@pytest.mark.parametrize("env, tpu_hosts, expected", [
    (LAPTOP, None, "single"),
    (MANUAL, None, "manual"),
    (dict(GKE_TPU, **MANUAL), None, "manual"),  # a named coordinator wins over any cluster
    (GKE_TPU, None, "tpu"),
    ({"TPU_PROCESS_ADDRESSES": "10.0.0.1:8476,10.0.0.2:8476"}, None, "tpu"),
    (GKE_TPU_SINGLE_HOST, None, "single"),
    (MULTISLICE, None, "tpu"),
    (LAPTOP, 4, "tpu"),  # a gcloud-created v4-32: 4 workers in the TPU VM metadata, nothing in env
    (LAPTOP, 1, "single"),  # a single-host TPU VM (v4-8, v5litepod-8, Colab)
    (SLURM, None, "slurm"),
    (SLURM_ONE_TASK, None, "single"),
    (SLURM_BATCH_SCRIPT, None, "single"),
    (OMPI, None, "mpi"),
    (OMPI_ONE_RANK, None, "single"),
    (dict(GKE_TPU, CS231N_JAX_DISTRIBUTED="off"), None, "single"),
    (dict(SLURM, CS231N_JAX_DISTRIBUTED="0"), 4, "single"),
    (dict(MANUAL, CS231N_JAX_DISTRIBUTED="off"), None, "manual"),
    ({"MEGASCALE_NUM_SLICES": ""}, None, "single"),  # empty counts as unset
])
def test_distributed_mode(env, tpu_hosts, expected):
  assert parallel.distributed_mode(env, tpu_hosts=tpu_hosts) == expected


def test_distributed_mode_reads_os_environ_by_default(monkeypatch):
  for k in list(SLURM) + ["CS231N_JAX_DISTRIBUTED", parallel.ENV_COORDINATOR]:
    monkeypatch.delenv(k, raising=False)
  assert parallel.distributed_mode() != "slurm"
  for k, v in SLURM.items():
    monkeypatch.setenv(k, v)
  assert parallel.distributed_mode() == "slurm"


def test_distributed_mode_names_a_bad_count():
  with pytest.raises(ConfigError, match="SLURM_NTASKS"):
    parallel.distributed_mode(dict(SLURM, SLURM_NTASKS="eight"))


def test_tpu_host_count_never_asks_without_tpu_chips(monkeypatch):
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: False)
  monkeypatch.setattr(parallel, "_tpu_metadata", lambda *a: pytest.fail("metadata queried off a TPU VM"))
  assert parallel.tpu_vm_host_count(LAPTOP) is None


def test_tpu_host_count_respects_skip_variable(monkeypatch):
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: True)
  monkeypatch.setattr(parallel, "_tpu_metadata", lambda *a: pytest.fail("metadata queried"))
  assert parallel.tpu_vm_host_count({"TPU_SKIP_MDS_QUERY": "1"}) is None


@pytest.mark.parametrize("endpoints, expected", [
    ("t1v-n-0-w-0,t1v-n-0-w-1,t1v-n-0-w-2,t1v-n-0-w-3", 4),  # hostnames
    ("unknown:0:10.130.0.5,unknown:1:10.130.0.6", 2),  # the older name:id:ip triples
    ("t1v-n-0-w-0", 1),
])
def test_tpu_host_count_from_metadata(monkeypatch, endpoints, expected):
  calls = []
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: True)
  monkeypatch.setattr(parallel, "_tpu_metadata", lambda key, env, timeout: calls.append((key, timeout)) or endpoints)
  assert parallel.tpu_vm_host_count(LAPTOP) == expected
  assert calls == [("worker-network-endpoints", parallel.METADATA_TIMEOUT_S)]


def test_tpu_host_count_unreachable_metadata_is_single(monkeypatch):
  def unreachable(*a):
    raise TimeoutError("timed out")  # an OSError, as urllib raises it

  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: True)
  monkeypatch.setattr(parallel, "_tpu_metadata", unreachable)
  assert parallel.tpu_vm_host_count(LAPTOP) is None


def test_metadata_query_is_bounded_when_the_server_is_missing():
  # An address nobody answers on (TEST-NET-1): the query fails within its timeout, not forever.
  import time

  t0 = time.monotonic()
  with pytest.raises(OSError):
    parallel._tpu_metadata("worker-network-endpoints", {"GCE_METADATA_IP": "127.0.0.1:9"}, 0.5)
  assert time.monotonic() - t0 < 5


@pytest.fixture
def recorder(monkeypatch):
  """initialize() with a fresh module state and jax.distributed.initialize recorded, not run."""
  calls = []
  monkeypatch.setattr(parallel, "_initialized", False)
  monkeypatch.setattr(parallel.jax.distributed, "initialize", lambda *a, **k: calls.append((a, k)))
  monkeypatch.setattr(parallel.jax.config, "update", lambda *a: calls.append(("config", a)))
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: False)
  for k in (list(MANUAL) + list(GKE_TPU) + list(MULTISLICE) + list(SLURM) + list(OMPI)
            + ["TPU_PROCESS_ADDRESSES", "CS231N_JAX_DISTRIBUTED", "TPU_SKIP_MDS_QUERY"]):
    monkeypatch.delenv(k, raising=False)
  return calls


def test_initialize_single_process_calls_nothing(recorder):
  parallel.initialize()
  assert recorder == []
  assert parallel._initialized


@pytest.mark.parametrize("env", [GKE_TPU, MULTISLICE, SLURM, OMPI])
def test_initialize_lets_jax_detect_the_cluster(recorder, monkeypatch, env):
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  parallel.initialize()
  assert recorder == [((), {})]  # jax.distributed.initialize() with no arguments


def test_initialize_gcloud_tpu_slice_from_metadata(recorder, monkeypatch):
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: True)
  monkeypatch.setattr(parallel, "_tpu_metadata", lambda *a: "w-0,w-1")
  parallel.initialize()
  assert recorder == [((), {})]


def test_initialize_single_host_tpu_vm_calls_nothing(recorder, monkeypatch):
  monkeypatch.setattr(parallel, "_tpu_chips_present", lambda: True)
  monkeypatch.setattr(parallel, "_tpu_metadata", lambda *a: "w-0")
  parallel.initialize()
  assert recorder == []


def test_initialize_manual_uses_gloo_and_the_arguments(recorder, monkeypatch):
  for k, v in GKE_TPU.items():
    monkeypatch.setenv(k, v)
  parallel.initialize("127.0.0.1:5555", 2, 0)
  assert recorder == [("config", ("jax_cpu_collectives_implementation", "gloo")),
                      (("127.0.0.1:5555",), {"num_processes": 2, "process_id": 0})]


def test_initialize_manual_from_environment(recorder, monkeypatch):
  for k, v in MANUAL.items():
    monkeypatch.setenv(k, v)
  parallel.initialize()
  assert recorder[-1] == (("10.0.0.1:1234",), {"num_processes": 2, "process_id": 1})


def test_initialize_manual_needs_count_and_id(recorder):
  with pytest.raises(ConfigError, match="--num-processes"):
    parallel.initialize("127.0.0.1:5555")
  with pytest.raises(ConfigError, match="--process-id"):
    parallel.initialize("127.0.0.1:5555", 2, 2)
  assert recorder == []


def test_initialize_open_mpi_5_without_mpi4py_says_what_to_do(recorder, monkeypatch):
  import sys

  monkeypatch.setitem(sys.modules, "mpi4py", None)  # import fails
  for k, v in OMPI.items():
    if k != "OMPI_MCA_orte_hnp_uri":
      monkeypatch.setenv(k, v)
  with pytest.raises(ConfigError, match="mpi4py"):
    parallel.initialize()
  assert recorder == []


def test_initialize_open_mpi_5_with_mpi4py_asks_jax_to_use_it(recorder, monkeypatch):
  import importlib.machinery
  import sys
  import types

  fake = types.ModuleType("mpi4py")
  fake.__spec__ = importlib.machinery.ModuleSpec("mpi4py", None)
  monkeypatch.setitem(sys.modules, "mpi4py", fake)
  for k, v in OMPI.items():
    if k != "OMPI_MCA_orte_hnp_uri":
      monkeypatch.setenv(k, v)
  parallel.initialize()
  assert recorder == [((), {"cluster_detection_method": "mpi4py"})]


def test_initialize_runs_once(recorder, monkeypatch):
  for k, v in SLURM.items():
    monkeypatch.setenv(k, v)
  parallel.initialize()
  parallel.initialize()
  assert len(recorder) == 1


def test_reached_preemption_single_process_is_false():
  assert parallel.reached_preemption(0) is False
  assert parallel.reached_preemption(123) is False
  assert checkpoint.reached_preemption(7) is False


def test_reached_preemption_uses_orbax_sync_point_with_several_processes(monkeypatch):
  steps = []
  monkeypatch.setattr(parallel.jax, "process_count", lambda: 2)
  monkeypatch.setattr(checkpoint.ocp.multihost, "reached_preemption", lambda step: steps.append(step) or step == 5)
  assert parallel.reached_preemption(4) is False
  assert parallel.reached_preemption(5) is True
  assert steps == [4, 5]


def test_reached_preemption_falls_back_on_jax(monkeypatch):
  from jax.experimental import multihost_utils

  monkeypatch.setattr(parallel.jax, "process_count", lambda: 2)
  monkeypatch.delattr(checkpoint.ocp.multihost, "reached_preemption")
  monkeypatch.setattr(multihost_utils, "reached_preemption_sync_point", lambda step: step == 3)
  assert checkpoint.reached_preemption(3) is True
  assert checkpoint.reached_preemption(2) is False

  def disabled(step):
    raise RuntimeError("Preemption sync manager has not been initialized")

  monkeypatch.setattr(multihost_utils, "reached_preemption_sync_point", disabled)
  assert checkpoint.reached_preemption(3) is False


PREEMPTION_SCRIPT = """
import sys, time
from cs231n_jax.train import parallel
parallel.initialize(sys.argv[1], 2, int(sys.argv[2]))
from jax.experimental import multihost_utils
print("ready", flush=True)
for step in range(3000):
  multihost_utils.sync_global_devices(f"step{step}")  # the hosts step together, as in training
  if parallel.reached_preemption(step):
    print("save at", step, flush=True)
    break
  time.sleep(0.01)
else:
  print("never", flush=True)
"""


@pytest.mark.slow
def test_sigterm_to_one_of_two_processes_stops_both_at_the_same_step(tmp_path):
  """Two real processes (gloo, 127.0.0.1): SIGTERM to process 1 only; both reach the sync point
  at the same step, through orbax's reached_preemption."""
  import os
  import signal
  import socket
  import subprocess
  import sys
  import time

  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  script = tmp_path / "preempt.py"
  script.write_text(PREEMPTION_SCRIPT)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
  procs = [subprocess.Popen([sys.executable, str(script), f"127.0.0.1:{port}", str(i)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for i in range(2)]
  try:
    early = []
    while (line := procs[1].stdout.readline()) and line.strip() != "ready":
      early.append(line)  # whatever a library printed first
    assert line.strip() == "ready", early
    time.sleep(1.0)
    procs[1].send_signal(signal.SIGTERM)
    outs = [p.communicate(timeout=120)[0] for p in procs]
    outs[1] = "".join(early) + outs[1]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert [p.returncode for p in procs] == [0, 0]
  saves = [[line for line in out.splitlines() if line.startswith("save at")] for out in outs]
  assert len(saves[0]) == 1 and saves[0] == saves[1], outs
