"""Ported numbers hold: the engine's captioning task takes the same first steps as the hand-written
loops it replaced (same seed, same batches, same initial variables)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cs231n_jax.captioning import data as D
from cs231n_jax.captioning import train as T
from cs231n_jax.tasks import captioning as TC
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import init_key


def engine_init(model, split, seed):
  return jax.jit(model.init)(init_key(seed), split.inputs[:1], split.captions[:1, :-1])


def train_losses(workdir):
  return [r["loss"] for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == "train"]


def test_engine_run_takes_the_old_runners_first_steps(tmp_path, monkeypatch):
  monkeypatch.setattr(T, "init_variables", engine_init)
  old = T.default_config("lstm")
  old.data.update(num_train=100, num_val=10, num_test=10)
  old.model.update(wordvec_dim=16, hidden_dim=32, encoder_channels=(4, 8), feature_dim=16, global_dim=16)
  old.train.update(batch_size=40, num_epochs=1, log_every=1, checkpoint_every=1, eval_batch_size=10, progress=False)
  old.decode.beam_size = 1
  T.run_captioning(old, str(tmp_path / "old"))
  new = TC.base_config("lstm")
  new.data, new.model, new.decode = old.data, old.model, old.decode
  new.train.update(batch_size=40, num_epochs=1, log_every=1, eval_batch_size=10, progress=False)
  task, data, _, _ = TC.build(new)
  loop.fit(task, data, new, tmp_path / "new")
  a, b = train_losses(tmp_path / "old"), train_losses(tmp_path / "new")
  assert len(a) == len(b) == 5
  print("old", a, "new", b)
  np.testing.assert_allclose(b, a, rtol=1e-5)


def test_engine_overfit_run_takes_the_old_checks_first_steps(tmp_path, monkeypatch):
  monkeypatch.setattr(T, "init_variables", engine_init)
  scenes = D.load_scenes(num_train=60, num_val=4, num_test=4, seed=0)
  split = D.pooled_features(scenes.train)
  sizes = dict(wordvec_dim=16, hidden_dim=32)
  a = T.overfit_small_data("rnn", split, scenes.vocab, scenes.max_length, num_examples=50, num_epochs=3, **sizes)
  config = TC.overfit_config("rnn", num_examples=50, num_epochs=3, **sizes)
  b = TC.overfit(config, split, scenes.vocab, scenes.max_length, str(tmp_path / "new"), num_examples=50)
  assert len(a) == len(b) == 6
  print("old", a, "new", b)
  np.testing.assert_allclose(b, a, rtol=1e-5)
