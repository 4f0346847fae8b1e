"""Global batches: deterministic per (seed, epoch), sliced per process, fixed-shape, resumable."""

import numpy as np
import pytest

from cs231n_jax.data.dataset import Split
from cs231n_jax.data.pipeline import BatchIterator, eval_batches
from cs231n_jax.errors import DataError

N, B = 23, 8  # 23 examples: 3 batches per epoch, the last one short


def split(n=N, shape=(2, 2, 1)):
  images = np.arange(n * int(np.prod(shape)), dtype=np.float32).reshape(n, *shape)
  return Split(images, np.arange(n, dtype=np.int32) % 5)


def ids(batch):
  """Which source examples a batch holds (the first pixel encodes the index)."""
  return (batch["image"][:, 0, 0, 0] / 4).astype(int)


def test_same_seed_same_batches_different_epochs_differ():
  a = BatchIterator(split(), B, 5, seed=3)
  b = BatchIterator(split(), B, 5, seed=3)
  first = [ids(next(a)) for _ in range(6)]
  second = [ids(next(b)) for _ in range(6)]
  for x, y in zip(first, second):
    np.testing.assert_array_equal(x, y)
  assert not np.array_equal(np.concatenate(first[:3]), np.concatenate(first[3:]))


def test_pad_policy_sees_every_example_once_per_epoch_with_fixed_shapes():
  it = BatchIterator(split(), B, 5, seed=0, last_batch="pad")
  assert it.steps_per_epoch == 3
  batches = [next(it) for _ in range(3)]
  assert {b["image"].shape for b in batches} == {(B, 2, 2, 1)}
  valid = np.concatenate([ids(b)[b["mask"] == 1] for b in batches])
  assert sorted(valid) == list(range(N))
  assert batches[-1]["mask"].sum() == N - 2 * B
  assert it.state() == {"epoch": 1, "position": 0, "seed": 0}


def test_drop_policy_skips_the_remainder():
  it = BatchIterator(split(), B, 5, seed=0, last_batch="drop")
  assert it.steps_per_epoch == 2
  batches = [next(it) for _ in range(2)]
  assert all(b["mask"].all() for b in batches)
  assert it.epoch == 1


def test_processes_take_disjoint_slices_of_the_global_batch():
  whole = BatchIterator(split(), B, 5, seed=1)
  parts = [BatchIterator(split(), B, 5, seed=1, process_index=p, process_count=4) for p in range(4)]
  for _ in range(5):
    g = next(whole)
    local = [next(p) for p in parts]
    assert all(lb["image"].shape[0] == B // 4 for lb in local)
    np.testing.assert_array_equal(np.concatenate([ids(lb) for lb in local]), ids(g))
    np.testing.assert_array_equal(np.concatenate([lb["mask"] for lb in local]), g["mask"])


def test_restore_continues_exactly():
  it = BatchIterator(split(), B, 5, seed=7)
  for _ in range(4):
    next(it)
  saved = it.state()
  expected = [ids(next(it)) for _ in range(5)]
  resumed = BatchIterator(split(), B, 5, seed=7)
  resumed.restore(saved)
  for e in expected:
    np.testing.assert_array_equal(ids(next(resumed)), e)


def test_restore_rejects_another_seed_and_bad_positions():
  it = BatchIterator(split(), B, 5, seed=7)
  with pytest.raises(DataError, match="seed 1"):
    it.restore({"epoch": 0, "position": 0, "seed": 1})
  with pytest.raises(DataError, match="position 9"):
    it.restore({"epoch": 0, "position": 9, "seed": 7})


def test_eval_batches_cover_the_split_in_order():
  batches = list(eval_batches(split(), B, 5))
  valid = np.concatenate([ids(b)[b["mask"] == 1] for b in batches])
  np.testing.assert_array_equal(valid, np.arange(N))


def bad(images=None, labels=None):
  s = split()
  return Split(s.images if images is None else images, s.labels if labels is None else labels)


def test_nan_pixel_is_named():
  images = split().images.copy()
  images[11, 1, 0, 0] = np.nan
  it = BatchIterator(bad(images=images), N + 1, 5, shuffle=False)
  with pytest.raises(DataError, match="train.images: example 11 has NaN"):
    next(it)


def test_label_out_of_range_is_named():
  labels = split().labels.copy()
  labels[4] = 5
  with pytest.raises(DataError, match=r"train.labels: example 4 has label 5, expected 0 <= label < 5"):
    next(BatchIterator(bad(labels=labels), N + 1, 5, shuffle=False))
  labels[4] = -1
  with pytest.raises(DataError, match="label -1"):
    next(BatchIterator(bad(labels=labels), N + 1, 5, shuffle=False))


def test_wrong_dtype_and_shape():
  with pytest.raises(DataError, match="floating dtype"):
    next(BatchIterator(bad(images=split().images.astype(np.int64)), B, 5))
  with pytest.raises(DataError, match=r"expected examples of shape \(8, 8, 1\)"):
    next(BatchIterator(split(), B, 5, image_shape=(8, 8, 1)))
  with pytest.raises(DataError, match="integer labels"):
    next(BatchIterator(bad(labels=split().labels.astype(np.float32)), B, 5))


def test_bad_arguments():
  with pytest.raises(DataError, match="empty"):
    BatchIterator(split(0), B, 5)
  with pytest.raises(DataError, match="not divisible by the 3 processes"):
    BatchIterator(split(), B, 5, process_count=3)
  with pytest.raises(DataError, match="batch_size"):
    BatchIterator(split(), 0, 5)
  with pytest.raises(DataError, match="last_batch"):
    BatchIterator(split(), B, 5, last_batch="wrap")
