"""The engine runs any task: a toy regression task whose state carries more than parameters.

Nothing here is a classifier: the state is a dict (parameters, optimizer state and a running
average of the targets carried from step to step), the metric is a mean squared error (lower is
better), and the batches are dicts from an :class:`ArraySource`.
"""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import RecompileError, build_steps, engine_state, init_key, mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task, mean_by_count

DIM = 5
TRUE_W = np.linspace(-1.0, 1.0, DIM).astype(np.float32)
TX = optax.sgd(0.1, momentum=0.5)


def make_split(n, seed):
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((n, DIM)).astype(np.float32)
  noise = 0.1 * rng.standard_normal(n).astype(np.float32)
  return ArraySource({"x": x, "y": x @ TRUE_W + noise})


SPLITS = {"train": make_split(300, 0), "val": make_split(100, 1), "test": make_split(100, 2)}


def init(key, example):
  w = 0.01 * jax.random.normal(key, (DIM,))
  params = {"w": w, "b": jnp.zeros(())}
  return {"params": params, "opt_state": TX.init(params), "target_mean": jnp.zeros(())}


def train_step(state, batch, key, axis_name=None, keep_prob=0.9):
  mask = batch["mask"]

  def loss_fn(params):
    # Dropout on the inputs: the step's key must reach the task (and differ across steps).
    keep = jax.random.bernoulli(key, keep_prob, batch["x"].shape) / keep_prob
    pred = (batch["x"] * keep) @ params["w"] + params["b"]
    return mean_over_valid((pred - batch["y"]) ** 2, mask, axis_name)

  loss, grads = jax.value_and_grad(loss_fn)(state["params"])
  grads, loss = psum_if(grads, axis_name), psum_if(loss, axis_name)
  updates, opt_state = TX.update(grads, state["opt_state"], state["params"])
  batch_mean = psum_if(mean_over_valid(batch["y"], mask, axis_name), axis_name)
  new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state,
         "target_mean": 0.9 * state["target_mean"] + 0.1 * batch_mean}
  return new, {"loss": loss, "target_mean": new["target_mean"]}


def eval_step(state, batch):
  pred = batch["x"] @ state["params"]["w"] + state["params"]["b"]
  return {"mse_sum": jnp.sum((pred - batch["y"]) ** 2 * batch["mask"]), "count": jnp.sum(batch["mask"])}


TASK = Task(init=init, train_step=train_step, eval_step=eval_step, metric="mse", mode="min",
            best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, name="regression")


def make_data(batch_size=32, seed=0):
  train = BatchIterator(SPLITS["train"], batch_size, seed=seed)
  evals = {name: (lambda n=name: eval_batches(SPLITS[n], 64)) for name in ("val", "test")}
  return Data(train=train, eval=evals, example=SPLITS["train"].get_batch(np.arange(1)), batch_size=batch_size)


def make_config(**train):
  c = ml_collections.ConfigDict({"seed": 0, "train": loop.engine_config()})
  c.train.update({"num_steps": 40, "eval_every": 10, "log_every": 5, "progress": False, "async_checkpoints": False})
  c.train.update(train)
  return c


def flat(tree):
  return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)])


def test_fit_trains_a_task_that_is_not_a_classifier(tmp_path):
  results = loop.fit(TASK, make_data(), make_config(), tmp_path)
  assert results["status"] == "trained" and results["steps"] == 40 and results["first_step_s"] > 0
  assert results["test_mse"] < 0.1  # the noise variance is 0.01; the zero predictor's mse is ~0.5
  val = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "val"]
  best = min(val, key=lambda r: r["mse"])
  assert results["best_step"] == best["step"] and results["val_mse"] == pytest.approx(best["mse"])
  train = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  assert [r["step"] for r in train] == list(range(5, 41, 5)) and "target_mean" in train[0]
  assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
  # `eval` restores the best parameters and the carried state.
  again = loop.evaluate_run(TASK, make_data(), make_config(), tmp_path, "test")
  assert again["mse"] == pytest.approx(results["test_mse"]) and again["best_step"] == results["best_step"]


def test_a_resumed_run_ends_bitwise_equal_to_an_uninterrupted_one(tmp_path):
  loop.fit(TASK, make_data(), make_config(checkpoint_every=5), tmp_path / "whole")
  loop.fit(TASK, make_data(), make_config(checkpoint_every=5, num_steps=15), tmp_path / "split")
  resumed = loop.fit(TASK, make_data(), make_config(checkpoint_every=5), tmp_path / "split")
  assert resumed["status"] == "trained"
  a, _, _ = loop.restore_best(TASK, make_data(), make_config(), tmp_path / "whole")
  b, _, _ = loop.restore_best(TASK, make_data(), make_config(), tmp_path / "split")
  assert int(a["step"]) == int(b["step"]) == 40
  np.testing.assert_array_equal(flat(a), flat(b))


def test_best_metric_and_mode_come_from_the_config(tmp_path):
  # "max" of the mse picks the worst validation step, which is not the last one here.
  results = loop.fit(TASK, make_data(), make_config(best_mode="max"), tmp_path)
  val = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "val"]
  assert results["best_step"] == max(val, key=lambda r: r["mse"])["step"]
  with pytest.raises(Exception, match="train.best_metric: the evaluation gives \\['mse'\\], not 'accuracy'"):
    loop.fit(TASK, make_data(), make_config(best_metric="accuracy"), tmp_path / "other")


def test_a_task_without_evaluation_keeps_its_last_state(tmp_path):
  task = Task(init=init, train_step=train_step)
  results = loop.fit(task, make_data(), make_config(num_steps=12, checkpoint_every=4), tmp_path)
  assert results["best_step"] == 12 and "val_mse" not in results


def test_a_non_finite_loss_stops_the_run(tmp_path):
  def exploding(state, batch, key, axis_name=None):
    new, metrics = train_step(state, batch, key, axis_name)
    return new, {**metrics, "loss": jnp.where(new["target_mean"] > -1e9, jnp.nan, 0.0)}

  task = Task(init=init, train_step=exploding, eval_step=eval_step)
  with pytest.raises(loop.TrainingDiverged, match="loss is nan at step 1"):
    loop.fit(task, make_data(), make_config(), tmp_path)


def run_kind(kind, n_steps=12):
  # Without dropout: under pmap every device draws its own masks, so only then do the kinds agree.
  task = Task(init=init, train_step=lambda *a: train_step(*a, keep_prob=1.0), eval_step=eval_step, metric="mse")
  chex.clear_trace_counter()
  steps = build_steps(task, kind, trace_guard=chex.assert_max_traces(n=1))
  data = make_data(batch_size=64)  # 300 examples: the 5th batch of each epoch is padded
  state = steps.put_state(engine_state(TASK.init(init_key(0), data.example), 0))
  for _ in range(n_steps):
    state, metrics = steps.train(state, steps.put_batch(next(data.train)))
  values = loop.evaluate(steps, state, data.eval["val"](), task)
  return steps.get_state(state), float(steps.get_metrics(metrics)["loss"]), values


def test_jit_sharded_and_pmap_give_the_same_state(devices):
  ref, ref_loss, ref_val = run_kind("jit")
  for kind in ("sharded", "pmap"):
    state, loss, val = run_kind(kind)
    assert int(state["step"]) == 12
    for part in ("params", "opt_state", "target_mean"):
      a, b = flat(ref["task"][part]), flat(state["task"][part])
      assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(a), (kind, part)
    assert loss == pytest.approx(ref_loss, rel=1e-5) and val["mse"] == pytest.approx(ref_val["mse"], rel=1e-5)


def test_a_host_step_is_not_traced_and_gives_the_jit_state(tmp_path):
  # The host kind calls the step from Python: the same keys and arithmetic as the compiled step.
  ref, ref_loss, _ = run_kind("jit")
  state, loss, _ = run_kind("host")
  for part in ("params", "opt_state", "target_mean"):
    a, b = flat(ref["task"][part]), flat(state["task"][part])
    assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(a), part
  assert loss == pytest.approx(ref_loss, rel=1e-5)

  calls = []

  def host_only(state, batch, key, axis_name=None):
    # Reading a value on the host fails under tracing: this step can drive a Python environment.
    calls.append(float(np.asarray(batch["y"]).sum()))
    return jax.jit(train_step)(state, batch, key)

  task = Task(init=init, train_step=host_only, eval_step=eval_step, metric="mse", mode="min",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p})
  results = loop.fit(task, make_data(), make_config(step="host"), tmp_path)
  assert len(calls) == 40 and results["test_mse"] < 0.1 and results["first_step_s"] > 0


def test_a_changed_batch_shape_is_a_recompile_error():
  steps = build_steps(TASK, "jit")
  state = steps.put_state(engine_state(TASK.init(init_key(0), None), 0))
  batch = lambda n: steps.put_batch({**SPLITS["train"].get_batch(np.arange(n)), "mask": np.ones(n, np.float32)})
  state, _ = steps.train(state, batch(8))
  with pytest.raises(RecompileError, match="train_step was traced 2 times"):
    steps.train(state, batch(4))


def test_mean_by_count_divides_sums_and_passes_arrays_through():
  out = mean_by_count({"loss_sum": 6.0, "count": 3.0, "confusion": np.eye(2)})
  assert out["loss"] == 2.0 and np.array_equal(out["confusion"], np.eye(2)) and "count" not in out


def test_patience_stops_early_and_a_rerun_is_complete(tmp_path):
  # "max" of a falling mse: the first validation stays the best, so patience 2 stops at step 30.
  config = make_config(best_mode="max", patience=2)
  results = loop.fit(TASK, make_data(), config, tmp_path)
  assert results["status"] == "stopped_early" and results["best_step"] == 10
  assert max(r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")) == 30
  assert loop.fit(TASK, make_data(), config, tmp_path)["status"] == "complete"


def test_outside_a_terminal_progress_and_evaluations_are_log_lines(tmp_path, capsys):
  loop.fit(TASK, make_data(), make_config(progress=True, num_steps=20), tmp_path)
  err = capsys.readouterr().err
  assert "\r" not in err  # no redrawn bar
  assert "step 5/20 (epoch 0.50): loss" in err and "step 20/20 val: mse " in err


def test_resuming_with_another_length_warns_that_the_schedule_changes(tmp_path):
  loop.fit(TASK, make_data(), make_config(num_steps=10), tmp_path)
  with pytest.warns(UserWarning, match="this run has 20 steps, the checkpoint's run had 10"):
    loop.fit(TASK, make_data(), make_config(num_steps=20), tmp_path)


def test_evaluating_a_run_logs_no_orbax_notices(tmp_path, caplog):
  loop.fit(TASK, make_data(), make_config(num_steps=10), tmp_path)
  caplog.clear()
  with caplog.at_level("INFO"):
    loop.evaluate_run(TASK, make_data(), make_config(num_steps=10), tmp_path, "test")
  assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
