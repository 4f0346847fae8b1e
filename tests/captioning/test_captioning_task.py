"""Ported numbers hold: the engine's captioning runs take the steps of a minimal reference loop (the
same jitted update on the same batches from the same initial variables). Both were first checked
against the hand-written loops they replaced (equal losses to rtol 1e-5)."""

from __future__ import annotations

import jax
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.captioning import data as D
from cs231n_jax.tasks import captioning as TC
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import engine_state, init_key


def train_losses(workdir):
  return [r["loss"] for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == "train"]


def reference_losses(model, tx, batches, seed, example, num_steps):
  """A few lines of training loop: init, then the jitted update on each batch."""
  variables = model.init(init_key(seed), example["inputs"][:1], example["captions"][:1, :-1])
  state = {"variables": variables, "opt_state": tx.init(variables)}
  rng = engine_state(None, seed)["rng"]
  step = jax.jit(lambda s, b, k: TC.train_step(model, tx, s, b, k))
  losses = []
  for i in range(num_steps):
    state, metrics = step(state, next(batches), jax.random.fold_in(rng, i))
    losses.append(float(metrics["loss"]))
  return losses


def test_engine_run_takes_the_reference_loops_first_steps(tmp_path):
  config = TC.base_config("lstm")
  config.data.update(num_train=100, num_val=10, num_test=10)
  config.model.update(wordvec_dim=16, hidden_dim=32, encoder_channels=(4, 8), feature_dim=16, global_dim=16)
  config.train.update(batch_size=40, num_epochs=1, log_every=1, eval_batch_size=10, progress=False)
  task, data, cdata, model = TC.build(config)
  loop.fit(task, data, config, tmp_path)
  tx = optim.make_optimizer(config.optimizer, 5)
  batches = TC.ShuffledCaptions(cdata.train, 40, config.seed)
  expected = reference_losses(model, tx, batches, config.seed, data.example, 5)
  np.testing.assert_allclose(train_losses(tmp_path), expected, rtol=1e-5)


def test_engine_overfit_run_takes_the_reference_loops_first_steps(tmp_path):
  scenes = D.load_scenes(num_train=60, num_val=4, num_test=4, seed=0)
  split = D.pooled_features(scenes.train)
  config = TC.overfit_config("rnn", num_examples=50, num_epochs=3, wordvec_dim=16, hidden_dim=32)
  history = TC.overfit(config, split, scenes.vocab, scenes.max_length, str(tmp_path), num_examples=50)
  # The course's schedule: Adam, the rate times 0.95 after every epoch of 2 minibatches.
  tx = optax.adam(optax.exponential_decay(5e-3, 2, 0.95, staircase=True))
  model = TC.build_model(config.model, scenes.vocab.size, scenes.max_length)
  small = split.first_captions(50)
  batches = TC.SampledCaptions(small, 25, config.seed)
  expected = reference_losses(model, tx, batches, config.seed, TC.caption_batch(small, np.arange(1)), 6)
  assert len(history) == 6
  np.testing.assert_allclose(history, expected, rtol=1e-5)


def test_batch_iterators_resume_where_they_stopped():
  scenes = D.load_scenes(num_train=30, num_val=2, num_test=2, seed=0)
  for make in (lambda: TC.ShuffledCaptions(scenes.train, 8, 0), lambda: TC.SampledCaptions(scenes.train, 8, 0)):
    a = make()
    whole = [next(a)["captions"] for _ in range(12)]  # 60 captions: 7 minibatches an epoch
    b = make()
    for _ in range(5):
      next(b)
    c = make()
    c.restore(b.state())
    for i in range(5, 12):
      np.testing.assert_array_equal(next(c)["captions"], whole[i])
