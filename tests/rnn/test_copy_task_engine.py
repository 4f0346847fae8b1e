"""Ported numbers hold: the copy task on the engine takes the same first steps as the hand-written
scan loop it replaced (same initial parameters, same sequences)."""

from __future__ import annotations

import jax
import numpy as np

from cs231n_jax.tasks import copy as TC
from cs231n_jax.text import copy_task as CT


def test_task_steps_equal_the_old_scan_loop():
  old = CT.default_config()
  old.update(cells=("lstm",), length=12, hidden_size=16, batch_size=8, num_steps=5, steps_per_call=1, eval_examples=16)
  curve = CT.train_cell(old, "lstm")["curve"]
  a = [loss for _, loss, _ in curve]
  new = TC.base_config()
  new.task.update(length=12, eval_examples=16)
  new.model.update(cell="lstm", hidden_size=16)
  new.train.update(batch_size=8, num_steps=5)
  task, data, _ = TC.build(new)
  # The old loop's keys: parameters from key(seed); step i's sequences from split(fold_in(key, i), 1)[0].
  key = jax.random.key(new.seed)
  state = task.init(key, data.example)
  step = jax.jit(task.train_step)
  b = []
  for i in range(5):
    state, metrics = step(state, next(data.train), jax.random.split(jax.random.fold_in(key, i), 1)[0])
    b.append(float(metrics["loss"]))
  print("old", a, "new", b)
  np.testing.assert_allclose(b, a, rtol=1e-5)
