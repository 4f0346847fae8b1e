"""The checkpoint manager: bitwise round trips, quarantine of damaged checkpoints, model mismatch."""

import json
import warnings

import numpy as np
import pytest

from cs231n_jax.errors import CheckpointError
from cs231n_jax.train.checkpoint import CheckpointManager, checksum, manifest, manifest_mismatches


def tree(scale=1.0, hidden=4):
  rng = np.random.default_rng(0)
  return {"params": {"Dense_0": {"kernel": (rng.normal(size=(3, hidden)) * scale).astype(np.float32),
                                 "bias": np.zeros(hidden, np.float32)}},
          "step": np.array(7, np.int32), "rng": np.array([1, 2], np.uint32)}


def save_steps(directory, steps, keep=5):
  m = CheckpointManager(directory, keep=keep)
  for s in steps:
    m.save(s, tree(scale=s), {"data_iterator": {"epoch": s, "position": 0}})
  m.close()


def test_round_trip_is_bitwise(tmp_path):
  save_steps(tmp_path / "ck", [1])
  r = CheckpointManager(tmp_path / "ck").restore_latest(tree())
  assert r.step == 1 and r.meta["data_iterator"]["epoch"] == 1
  expected = tree(scale=1)
  np.testing.assert_array_equal(r.tree["params"]["Dense_0"]["kernel"], expected["params"]["Dense_0"]["kernel"])
  assert r.tree["rng"].dtype == np.uint32 and r.tree["step"] == 7


def test_keeps_the_newest_k(tmp_path):
  save_steps(tmp_path / "ck", [1, 2, 3, 4], keep=2)
  assert CheckpointManager(tmp_path / "ck").all_steps() == [3, 4]


def truncate_arrays(step_dir):
  for f in step_dir.rglob("*"):
    if f.is_file() and f.parent.name == "d":
      f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


@pytest.mark.parametrize("damage", ["truncated arrays", "garbled meta", "missing state"])
def test_damaged_latest_is_quarantined_and_the_previous_restored(tmp_path, damage):
  ck = tmp_path / "ck"
  save_steps(ck, [1, 2])
  if damage == "truncated arrays":
    truncate_arrays(ck / "2" / "state")
  elif damage == "garbled meta":
    for f in (ck / "2" / "meta").rglob("*"):
      if f.is_file():
        f.write_text("{ not json")
  else:  # as if the disk lost the array store
    for f in (ck / "2" / "state").rglob("manifest.ocdbt"):
      f.unlink()
  with pytest.warns(RuntimeWarning, match="checkpoint step 2 .* is unreadable"):
    r = CheckpointManager(ck).restore_latest(tree())
  assert r.step == 1
  np.testing.assert_array_equal(r.tree["params"]["Dense_0"]["kernel"], tree(scale=1)["params"]["Dense_0"]["kernel"])
  quarantined = list((tmp_path / "ck_quarantine").iterdir())
  assert len(quarantined) == 1 and quarantined[0].name.startswith("2-")  # moved aside, not deleted
  assert (ck / "1").exists()
  # No crash loop: the next start restores step 1 again, quietly.
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert CheckpointManager(ck).restore_latest(tree()).step == 1


def test_checksum_catches_changed_bytes(tmp_path):
  ck = tmp_path / "ck"
  save_steps(ck, [1, 2])
  meta_files = [f for f in (ck / "2" / "meta").rglob("*") if f.is_file()]
  meta = json.loads(meta_files[0].read_text())
  meta["checksum"] = checksum(tree(scale=99))  # the stored bytes no longer match
  meta_files[0].write_text(json.dumps(meta))
  with pytest.warns(RuntimeWarning, match="do not match the stored checksum"):
    assert CheckpointManager(ck).restore_latest(tree()).step == 1


def test_read_only_skips_without_moving(tmp_path):
  ck = tmp_path / "ck"
  save_steps(ck, [1, 2])
  truncate_arrays(ck / "2" / "state")
  with pytest.warns(RuntimeWarning, match="skipped"):
    assert CheckpointManager(ck, read_only=True).restore_latest(tree()).step == 1
  assert (ck / "2").exists() and not (tmp_path / "ck_quarantine").exists()


def test_a_different_model_names_the_leaves(tmp_path):
  save_steps(tmp_path / "ck", [1])
  with pytest.raises(CheckpointError, match=r"params/Dense_0/kernel: checkpoint \(3, 4\) float32 vs model \(3, 6\) float32"):
    CheckpointManager(tmp_path / "ck").restore_latest(tree(hidden=6), config={"model": {"hidden": 6}})
  # Nothing was quarantined: a mismatch is the caller's error, not damage.
  assert CheckpointManager(tmp_path / "ck").all_steps() == [1]


def test_manifest_mismatches_lists_missing_and_extra():
  a, b = manifest({"x": np.zeros(2), "y": np.zeros(1)}), manifest({"x": np.zeros(2), "z": np.zeros(1)})
  assert manifest_mismatches(a, b) == ["y: not in this model", "z: missing in checkpoint"]


def test_relative_directories_work(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  save_steps("relative/ck", [3])
  assert CheckpointManager("relative/ck").restore_latest(tree()).step == 3
