"""Ported numbers hold: the old char-LM and min-char-rnn loops and the engine tasks that replace
them give the same losses and bits per character from the same seed on the same batches."""

from __future__ import annotations

import jax
import pytest

from cs231n_jax.tasks import char_lm as L
from cs231n_jax.text import corpus as C
from cs231n_jax.text import min_char_rnn as M
from cs231n_jax.text import train as T
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import init_key


def _records(workdir, split, field):
  return [r[field] for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == split]


def _text_file(tmp_path, n):
  path = tmp_path / "text.txt"
  path.write_text(C.pydoc_text()[:n])
  return str(path)


def test_char_lm_engine_matches_the_old_loop(tmp_path, monkeypatch):
  path = _text_file(tmp_path, 6000)
  old = T.default_config()
  old.data.update(name="file", path=path)
  old.model.update(cell="gru", hidden_size=16, embed_dim=8)
  old.train.update(batch_size=4, seq_length=16, num_steps=6, steps_per_call=2, eval_every=2, log_every=2,
                   checkpoint_every=6, eval_chunk=256, progress=False)
  old.sample.length = 20
  old.ngram_orders = (1, 2)
  with monkeypatch.context() as m:  # the old loop initialised from key(seed), the engine from init_key(seed)
    m.setattr(jax.random, "key", lambda seed: init_key(seed))
    old_results = T.run_char_lm(old, str(tmp_path / "old"))

  new = L.base_config()
  new.data.update(name="file", path=path)
  new.model.update(cell="gru", hidden_size=16, embed_dim=8)
  new.train.update(batch_size=4, seq_length=16, num_steps=3, chunks_per_step=2, eval_every=1, log_every=1,
                   checkpoint_every=3, eval_chunk=256, progress=False, async_checkpoints=False)
  new.sample.length = 20
  new.ngram_orders = (1, 2)
  new_results = L.run(new, str(tmp_path / "new"))

  old_bits, new_bits = _records(tmp_path / "old", "train", "bits_per_char"), _records(tmp_path / "new", "train", "bits_per_char")
  print("train bits/char old", old_bits, "new", new_bits)
  assert len(old_bits) == len(new_bits) == 3
  assert new_bits == pytest.approx(old_bits, rel=1e-5)
  old_val, new_val = _records(tmp_path / "old", "val", "bits_per_char"), _records(tmp_path / "new", "val", "bits_per_char")
  print("val bits/char old", old_val, "new", new_val)
  assert new_val == pytest.approx(old_val, rel=1e-5)
  for key in ("val_bits_per_char", "test_bits_per_char", "train_sample_bits_per_char", "best_step", "best_ngram",
              "best_ngram_test_bits"):
    print(key, old_results[key], new_results[key])
  for key in ("val_bits_per_char", "test_bits_per_char", "train_sample_bits_per_char", "best_ngram_test_bits"):
    assert new_results[key] == pytest.approx(old_results[key], rel=1e-5), key
  assert new_results["best_step"] * 2 == old_results["best_step"]


def test_min_char_rnn_engine_matches_the_old_loop(tmp_path, monkeypatch):
  path = _text_file(tmp_path, 1500)  # 1275 training characters: the pointer wraps after 50 iterations
  old = M.default_config()
  old.data.update(name="file", path=path)
  old.update(num_iterations=80, iterations_per_call=10, eval_every=20, checkpoint_every=80, hidden_size=32,
             sample_length=20, ngram_orders=(1, 2))
  with monkeypatch.context() as m:
    m.setattr(jax.random, "key", lambda seed: init_key(seed))
    old_results = M.run_min_char_rnn(old, str(tmp_path / "old"))

  new = L.min_char_rnn_config()
  new.data.update(name="file", path=path)
  new.model.hidden_size = 32
  new.train.update(num_steps=8, chunks_per_step=10, eval_every=2, log_every=1, checkpoint_every=8,
                   progress=False, async_checkpoints=False)
  new.sample.length = 20
  new.ngram_orders = (1, 2)
  new_results = L.run_min_char_rnn(new, str(tmp_path / "new"))

  for field in ("bits_per_char", "smooth_loss"):
    a, b = _records(tmp_path / "old", "train", field), _records(tmp_path / "new", "train", field)
    print(field, "old", a, "new", b)
    assert len(a) == len(b) == 8 and b == pytest.approx(a, rel=1e-5), field
  a, b = _records(tmp_path / "old", "val", "bits_per_char"), _records(tmp_path / "new", "val", "bits_per_char")
  print("val old", a, "new", b)
  assert b == pytest.approx(a, rel=1e-5)
  for key in ("val_bits_per_char", "test_bits_per_char"):
    print(key, old_results[key], new_results[key])
    assert new_results[key] == pytest.approx(old_results[key], rel=1e-5), key
  assert new_results["best_step"] * 10 == old_results["best_iteration"]
  assert set(new_results["samples"]) == set(old_results["samples"])  # drawn with another key
