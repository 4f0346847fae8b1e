"""The char-LM tasks on the engine: their first steps equal a plain reference loop written here
(the same update on the same batches from the same initial state), and the char LM's jit, sharded
and pmap steps agree (the carried state of every stream included)."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax import optim
from cs231n_jax.nn.recurrent import gradient_clipping
from cs231n_jax.tasks import char_lm as L
from cs231n_jax.text import corpus as C
from cs231n_jax.text import min_char_rnn as M
from cs231n_jax.text.model import CharLM
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import build_steps, engine_state, init_key


def _records(workdir, split, field):
  return [r[field] for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == split]


def _text_file(tmp_path, n):
  path = tmp_path / "text.txt"
  path.write_text(C.pydoc_text()[:n])
  return str(path)


def _char_lm_config(path, **train):
  c = L.base_config()
  c.data.update(name="file", path=path)
  c.model.update(cell="gru", hidden_size=16, embed_dim=8)
  c.train.update(batch_size=4, seq_length=16, num_steps=3, chunks_per_step=2, eval_every=3, log_every=1,
                 checkpoint_every=3, eval_chunk=256, progress=False, async_checkpoints=False)
  c.train.update(train)
  c.sample.length = 20
  c.ngram_orders = (1, 2)
  return c


def test_char_lm_engine_equals_a_reference_truncated_bptt_loop(tmp_path):
  config = _char_lm_config(_text_file(tmp_path, 6000))
  results = L.run(config, str(tmp_path / "run"))
  engine_bits = _records(tmp_path / "run", "train", "bits_per_char")

  # The reference: one optimizer update per chunk, the incoming state held constant, the state of
  # each stream carried to its next chunk and zeroed where an epoch starts.
  corpus = C.load_corpus(config.data)
  model = L.build_model(config.model, corpus.vocab.size)
  tx = optax.chain(gradient_clipping("norm", 5.0), optim.make_optimizer(config.optimizer, 3 * 2))
  params = jax.jit(model.init)(init_key(config.seed), jnp.zeros((1, 1), jnp.int32))["params"]
  opt_state, carries = tx.init(params), model.initial_carries(4)

  def chunk_loss(params, carries, tokens):
    _, logits = model.apply({"params": params}, tokens[:, :-1], carries)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]))

  @jax.jit
  def update(params, opt_state, carries, tokens, reset):
    carries = jax.tree.map(lambda c: jnp.where(reset, jnp.zeros_like(c), c), carries)
    loss, grads = jax.value_and_grad(chunk_loss)(params, carries, tokens)
    updates, opt_state = tx.update(grads, opt_state, params)
    carries, _ = model.apply({"params": params}, tokens[:, :-1], carries)
    return optax.apply_updates(params, updates), opt_state, carries, loss

  streams = corpus.train[:len(corpus.train) // 4 * 4].reshape(4, -1)
  reference_bits = []
  for step in range(3):
    losses = []
    for k in (2 * step, 2 * step + 1):
      tokens = jnp.asarray(streams[:, k * 16:(k + 1) * 16 + 1], jnp.int32)
      params, opt_state, carries, loss = update(params, opt_state, carries, tokens, k == 0)
      losses.append(float(loss))
    reference_bits.append(np.mean(losses) / math.log(2))
  assert engine_bits == pytest.approx(reference_bits, rel=1e-5)

  # Validation: the whole val text as one stream from the zero state, in one call.
  _, logits = model.apply({"params": params}, jnp.asarray(corpus.val[None, :-1]), model.initial_carries(1))
  nats = optax.softmax_cross_entropy_with_integer_labels(logits[0], jnp.asarray(corpus.val[1:]))
  reference_val = float(jnp.mean(nats)) / math.log(2)
  assert _records(tmp_path / "run", "val", "bits_per_char")[-1] == pytest.approx(reference_val, rel=1e-5)
  assert results["best_step"] == 3 and results["val_bits_per_char"] == pytest.approx(reference_val, rel=1e-5)


def test_min_char_rnn_engine_equals_the_gists_loop(tmp_path):
  path = _text_file(tmp_path, 1500)  # 1275 training characters: the pointer wraps after 50 iterations
  config = L.min_char_rnn_config()
  config.data.update(name="file", path=path)
  config.model.hidden_size = 32
  config.train.update(num_steps=8, chunks_per_step=10, eval_every=8, log_every=1, checkpoint_every=8,
                      progress=False, async_checkpoints=False)
  config.sample.length = 20
  config.ngram_orders = (1, 2)
  results = L.run_min_char_rnn(config, str(tmp_path / "run"))

  # The gist's loop, one iteration at a time with its data pointer p and counter n.
  corpus = C.load_corpus(config.data)
  data, t = corpus.train, 25
  state = M.initial_state(init_key(config.seed), corpus.vocab.size, 32, t)
  iteration = jax.jit(lambda s, w, r: M.iteration(s, w, r, 0.1, 5.0))
  p, losses, smooth = 0, [], []
  for n in range(80):
    if p + t + 1 >= len(data) or n == 0:
      p = 0
      restart = True
    else:
      restart = False
    state, loss = iteration(state, jnp.asarray(data[p:p + t + 1]), restart)
    p += t
    losses.append(float(loss))
    if n % 10 == 9:
      smooth.append(float(state["smooth_loss"]))
  bits = [np.mean(losses[i:i + 10]) / t / math.log(2) for i in range(0, 80, 10)]
  assert _records(tmp_path / "run", "train", "bits_per_char") == pytest.approx(bits, rel=1e-5)
  assert _records(tmp_path / "run", "train", "smooth_loss") == pytest.approx(smooth, rel=1e-5)
  val = corpus.val
  reference_val = float(M.forward_loss(state["params"], jnp.asarray(val[:-1]), jnp.asarray(val[1:]),
                                       jnp.zeros(32))[0]) / (len(val) - 1) / math.log(2)
  assert results["val_bits_per_char"] == pytest.approx(reference_val, rel=1e-5)
  assert results["iterations"] == 80 and set(results["samples"]) == {"1.0"}


def _kind_run(kind, corpus, model, tx, steps=3):
  task = L.char_lm_task(model, tx, batch_size=8)
  chex.clear_trace_counter()
  compiled = build_steps(task, kind, trace_guard=chex.assert_max_traces(n=1))
  batcher = L.StreamBatcher(corpus.train, 8, 12, chunks_per_step=2)
  state = compiled.put_state(engine_state(task.init(init_key(0), None), 0))
  for _ in range(steps):
    state, metrics = compiled.train(state, compiled.put_batch(next(batcher)))
  evals = L.stream_eval_data(corpus, 200, kind)
  values = {name: loop.evaluate(compiled, state, batches(), task)["bits_per_char"] for name, batches in evals.items()}
  return compiled.get_state(state)["task"], float(compiled.get_metrics(metrics)["loss"]), values


def test_jit_sharded_and_pmap_char_lm_steps_agree(devices):
  corpus = C.corpus_from_text(C.pydoc_text()[:8000])
  model = CharLM(vocab_size=corpus.vocab.size, cell="lstm", hidden_size=8, embed_dim=4)
  tx = optax.chain(gradient_clipping("norm", 5.0), optax.adam(1e-2))
  ref_state, ref_loss, ref_values = _kind_run("jit", corpus, model, tx)
  for kind in ("sharded", "pmap"):
    state, loss, values = _kind_run(kind, corpus, model, tx)
    for part in ("params", "carries"):
      for a, b in zip(jax.tree.leaves(ref_state[part]), jax.tree.leaves(state[part])):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, err_msg=f"{kind} {part}")
    assert loss == pytest.approx(ref_loss, rel=1e-5), kind
    assert values == pytest.approx(ref_values, rel=1e-5), kind


def test_an_optimizer_with_ema_decay_evaluates_and_keeps_the_polyak_average(tmp_path):
  config = _char_lm_config(_text_file(tmp_path, 3000))
  config.optimizer.ema_decay = 0.5
  task, data, _, model = L.build(config)
  state = task.init(init_key(0), data.example)
  step = jax.jit(task.train_step)
  for i in range(2):
    state, _ = step(state, jax.tree.map(jnp.asarray, next(data.train)), jax.random.key(i))
  average = optim.averaged_params(state["opt_state"])
  plain = L.char_lm_task(model, optax.sgd(0.1), 4)  # evaluates whatever params it is given
  batch = jax.tree.map(jnp.asarray, data.eval["val"]()[0])

  def bits(task_, state_):
    return L.bits_summary(task_.eval_step(state_, batch))["bits_per_char"]

  assert bits(task, state) == pytest.approx(bits(plain, {"params": average}), rel=1e-6)
  assert bits(task, state) != pytest.approx(bits(plain, {"params": state["params"]}), rel=1e-4)
  chex.assert_trees_all_equal(task.best(state), average)
  kept = task.with_best(state, average)  # the final evaluation's state: it must evaluate the kept parameters
  chex.assert_trees_all_equal(kept["params"], average)
  assert bits(task, kept) == pytest.approx(bits(plain, {"params": average}), rel=1e-6)
