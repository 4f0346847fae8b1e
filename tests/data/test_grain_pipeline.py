"""The grain pipeline under BatchIterator: worker processes and prefetch change nothing in the
batches, a restored iterator (with any number of workers) continues exactly, the last batch keeps
its shape with a mask, and a bad example read in a worker is still named."""

import json

import numpy as np
import pytest

from cs231n_jax.data.dataset import Split
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.data.tfds_source import TfdsSplit
from cs231n_jax.errors import DataError

N, B = 23, 8  # 3 batches per epoch, the last one with 7 real examples and 1 masked


def crops_source(n=N):
  """Images of several sizes, brought to 16x16 by a random host-side scale-and-crop: the batches
  depend on the pipeline's per-batch generator, not only on the indices."""
  rng = np.random.default_rng(0)
  records = [{"image": rng.integers(0, 256, size=(20 + i % 4, 24 - i % 3, 3), dtype=np.uint8), "label": i % 5}
             for i in range(n)]
  return TfdsSplit(records, image_size=16, train_scale_range=(18, 22))


def take(it, k):
  return [next(it) for _ in range(k)]


def assert_same(xs, ys):
  assert len(xs) == len(ys)
  for x, y in zip(xs, ys):
    assert x.keys() == y.keys()
    for k in x:
      assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape
      np.testing.assert_array_equal(x[k], y[k])  # bitwise: same values, same dtype


def test_prefetch_thread_gives_the_same_batches_and_resumes():
  plain = take(BatchIterator(crops_source(), B, 5, seed=3), 7)
  ahead = BatchIterator(crops_source(), B, 5, seed=3, prefetch=3)
  assert_same(take(ahead, 4), plain[:4])
  state = json.loads(json.dumps(ahead.state()))  # what the checkpoint stores
  assert state == {"epoch": 1, "position": 1, "seed": 3}
  resumed = BatchIterator(crops_source(), B, 5, seed=3, prefetch=2)
  resumed.restore(state)
  assert_same(take(resumed, 3), plain[4:])
  ahead.close()


def test_padded_last_batch_keeps_its_shape_and_masks_the_top_up():
  it = BatchIterator(crops_source(), B, 5, seed=0)
  batches = take(it, 3)
  assert {b["image"].shape for b in batches} == {(B, 16, 16, 3)}
  np.testing.assert_array_equal(batches[-1]["mask"], [1] * 7 + [0])
  valid = np.concatenate([b["label"][b["mask"] == 1] for b in batches])
  assert len(valid) == N
  idx, mask = it.global_indices(0, 2)
  np.testing.assert_array_equal(idx[7:], it.order(0)[:1])  # topped up from the epoch's start


@pytest.mark.slow
def test_workers_give_bitwise_the_batches_of_one_process_and_resume_exactly():
  """Two worker processes, the second host process's slice, across an epoch boundary with a
  padded batch; resumed mid-epoch with one worker and with none."""
  kw = dict(seed=5, process_index=1, process_count=2)
  plain = take(BatchIterator(crops_source(), B, 5, **kw), 7)
  assert plain[2]["image"].shape == (B // 2, 16, 16, 3)
  np.testing.assert_array_equal(plain[2]["mask"], [1, 1, 1, 0])  # rows 4..7 of the padded batch
  with_workers = BatchIterator(crops_source(), B, 5, workers=2, prefetch=2, **kw)
  assert_same(take(with_workers, 4), plain[:4])
  state = with_workers.state()
  with_workers.close()
  for workers in (1, 0):
    resumed = BatchIterator(crops_source(), B, 5, workers=workers, **kw)
    resumed.restore(state)
    assert_same(take(resumed, 3), plain[4:])
    resumed.close()


@pytest.mark.slow
def test_workers_for_dict_sources_evaluation_and_bad_examples():
  arrays = ArraySource({"x": np.arange(N * 3, dtype=np.float32).reshape(N, 3), "t": np.arange(N)})
  plain = list(eval_batches(arrays, B))
  assert_same(list(eval_batches(arrays, B, workers=2, prefetch=1)), plain)
  assert len(plain) == 3 and plain[-1]["mask"].sum() == N - 2 * B
  images = np.zeros((N, 2, 2, 1), np.float32)
  images[11, 1, 0, 0] = np.nan
  it = BatchIterator(Split(images, np.zeros(N, np.int32)), N + 1, 5, shuffle=False, workers=1)
  with pytest.raises(DataError, match="train.images: example 11 has NaN"):
    next(it)
  it.close()


def test_bad_worker_settings():
  with pytest.raises(DataError, match="data.workers: expected a non-negative integer, got -1"):
    BatchIterator(crops_source(), B, 5, workers=-1)
  with pytest.raises(DataError, match="data.prefetch"):
    BatchIterator(crops_source(), B, 5, prefetch=1.5)


CHILD = """
import os, sys, time
import numpy as np
from cs231n_jax.data.pipeline import ArraySource, BatchIterator
if __name__ == "__main__":
  it = BatchIterator(ArraySource({"x": np.arange(100.0)}), 4, workers=2, prefetch=1)
  next(it)
  print("ready", flush=True)
  time.sleep(300)
"""


@pytest.mark.slow
def test_workers_end_when_the_training_process_is_killed(tmp_path):
  """kill -9 of the process that started the workers (a preemption) leaves no worker behind."""
  import signal
  import subprocess
  import sys
  import time

  import psutil

  script = tmp_path / "child.py"
  script.write_text(CHILD)
  proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
  try:
    assert proc.stdout.readline().strip() == "ready"
    workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) == 2
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  deadline = time.time() + 30
  while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers):
    assert time.time() < deadline, "grain workers outlived the killed process"
    time.sleep(0.2)
