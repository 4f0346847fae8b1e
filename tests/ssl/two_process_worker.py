"""One process of the 2-process SimCLR check (tests/ssl/test_two_processes.py): one CPU device per process,
jax.distributed on 127.0.0.1 with gloo collectives; this process holds its half of the global batch.

    python two_process_worker.py PROCESS_ID PORT OUT.npz
"""

import os
import sys

GLOBAL_BATCH = 16


def problem():
  """The SimCLR update (SGD, so the new parameters are linear in the gradients), its state and the two views of
  the global batch: the same in every process and in the test's reference."""
  import jax
  import numpy as np

  from cs231n_jax import optim
  from cs231n_jax.tasks import contrastive

  c = contrastive.base_config()
  c.method = "simclr"
  c.model.update({"encoder_kwargs": {"channels": (4,), "strides": (2,), "features": 8}, "projection_hidden": 8,
                  "projection_dim": 4})
  c.train.batch_size = GLOBAL_BATCH
  c.optimizer = optim.default_config("sgd", 0.5)
  model = contrastive.build_model(c)
  tx = optim.make_optimizer(c.optimizer, 10)
  task = contrastive.contrastive_task(c, model, tx, 10, (8, 8, 1))
  update = contrastive.method_update(c, model, tx, 10)
  state = task.init(jax.random.PRNGKey(1), None)
  rng = np.random.default_rng(1)
  v1, v2 = (rng.normal(size=(GLOBAL_BATCH, 8, 8, 1)).astype(np.float32) for _ in range(2))
  return update, state, v1, v2


def flat(tree):
  import jax
  import numpy as np

  return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)])


def main(process_id: int, port: int, out: str) -> None:
  os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
  from cs231n_jax.train import parallel

  parallel.initialize(f"127.0.0.1:{port}", 2, process_id)
  import jax
  import numpy as np

  assert jax.process_count() == 2 and jax.device_count() == 2 and jax.local_device_count() == 1
  update, state, v1, v2 = problem()
  rows = slice(process_id * GLOBAL_BATCH // 2, (process_id + 1) * GLOBAL_BATCH // 2)
  rep = jax.tree.map(lambda x: np.asarray(x)[None], state)
  new, metrics = jax.pmap(lambda s, a, b: update(s, a, b, "d"), axis_name="d")(rep, v1[None, rows], v2[None, rows])
  np.savez(out, loss=np.asarray(metrics["loss"])[0], accuracy=np.asarray(metrics["accuracy"])[0],
           params=flat(jax.tree.map(lambda x: np.asarray(x)[0], new["params"])))
  jax.distributed.shutdown()


if __name__ == "__main__":
  main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
