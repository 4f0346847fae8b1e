"""SimCLR / MoCo / BYOL as engine tasks: MoCo's units, bad configs, 8 devices = one device, a tiny run."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax import optim
from cs231n_jax.errors import ConfigError
from cs231n_jax.ssl import losses
from cs231n_jax.tasks import contrastive
from cs231n_jax.train import loop


def tiny_config(method="moco", batch=8):
  c = contrastive.base_config()
  c.method = method
  c.model.update({"encoder_kwargs": {"channels": (4,), "strides": (2,), "features": 8}, "projection_hidden": 8,
                  "projection_dim": 4, "predictor_hidden": 8})
  c.moco.update({"queue_size": 2 * batch, "momentum": 0.9})
  c.train.update({"batch_size": batch, "num_steps": 20, "progress": False, "log_every": 5})
  c.probe.labels_per_class = (1, 5)
  return c


def parts(config, image_shape=(8, 8, 1)):
  model = contrastive.build_model(config)
  tx = optim.make_optimizer(config.optimizer, 10)
  task = contrastive.contrastive_task(config, model, tx, 10, image_shape)
  return model, tx, task, contrastive.method_update(config, model, tx, 10)


def test_moco_key_encoder_gets_no_gradient_momentum_is_elementwise_and_queue_is_fifo():
  config = tiny_config("moco", 4)
  model, _, task, update = parts(config)
  state = task.init(jax.random.PRNGKey(0), None)
  rng = np.random.default_rng(0)
  v1, v2 = (jnp.asarray(rng.normal(size=(4, 8, 8, 1)), jnp.float32) for _ in range(2))
  key_params = jax.tree.map(lambda x: x + 0.1, state["params"])  # a key encoder that differs from the query's
  loss = lambda p, kp: contrastive.moco_loss(model, p, kp, state["queue"], v1, v2, 0.2)[0]
  grads, qgrads = jax.jit(lambda p, kp: (jax.grad(loss, argnums=1)(p, kp), jax.grad(loss)(p, kp)))(state["params"],
                                                                                                   key_params)
  assert all(np.all(np.asarray(g) == 0.0) for g in jax.tree.leaves(grads))
  assert sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(qgrads)) > 0

  state = {**state, "key_params": key_params}
  new, metrics = jax.jit(update)(state, v1, v2)
  for k_old, q_new, k_new in zip(jax.tree.leaves(key_params), jax.tree.leaves(new["params"]), jax.tree.leaves(new["key_params"])):
    np.testing.assert_allclose(np.asarray(k_new), 0.9 * np.asarray(k_old) + 0.1 * np.asarray(q_new), rtol=1e-6, atol=1e-7)
  # The queue: the 4 new (normalised) keys from the OLD key encoder replace the oldest block; the rest untouched.
  keys = losses.normalize(model.apply({"params": key_params}, v2)["z"])
  np.testing.assert_allclose(new["queue"][:4], keys, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(new["queue"][4:], state["queue"][4:])
  assert int(new["ptr"]) == 4 and np.isfinite(float(metrics["loss"]))

  queue, ptr = jnp.zeros((6, 1)), jnp.zeros((), jnp.int32)
  for block in range(5):  # blocks 0..4 of 2: the queue holds the 3 newest blocks, oldest overwritten first
    queue, ptr = contrastive.enqueue(queue, ptr, jnp.full((2, 1), float(block + 1)))
  np.testing.assert_array_equal(np.asarray(queue)[:, 0], [4, 4, 5, 5, 3, 3])
  assert int(ptr) == 4


def test_bad_configs_are_named():
  c = tiny_config("moco", 8)
  c.moco.queue_size = 20
  with pytest.raises(ConfigError, match="moco.queue_size: expected a positive multiple of the global batch size 8, got 20"):
    contrastive.check_config(c)
  c = tiny_config("simclr")
  c.loss.temperature = 0.0
  with pytest.raises(ConfigError, match="loss.temperature: expected a positive number"):
    contrastive.check_config(c)
  c = tiny_config("moco")
  c.moco.temperature = -1.0
  with pytest.raises(ConfigError, match="moco.temperature"):
    contrastive.check_config(c)
  c = tiny_config("swav")
  with pytest.raises(ConfigError, match="method: expected one of"):
    contrastive.check_config(c)
  c = tiny_config("simclr")
  c.views.view2 = "rotate | mirror"
  with pytest.raises(ConfigError, match="views.view2: views: unknown augmentation 'mirror'"):
    contrastive.check_config(c)


@pytest.mark.parametrize("method", ["simclr", "moco"])
def test_eight_devices_equal_one_device_over_the_same_global_batch(devices, method):
  """The update on 8 devices (pmap: all_gather of the embeddings / keys, psum of gradients) gives the
  same loss, parameters and MoCo queue as one device over the global batch."""
  config = tiny_config(method, 16)
  config.optimizer = optim.default_config("sgd", 0.5)  # parameters linear in the gradients (Adam's first step is ~sign(g))
  _, _, task, update = parts(config)
  state = task.init(jax.random.PRNGKey(1), None)
  rng = np.random.default_rng(1)
  v1, v2 = (rng.normal(size=(16, 8, 8, 1)).astype(np.float32) for _ in range(2))
  ref, ref_metrics = jax.jit(update)(state, v1, v2)
  rep = jax.tree.map(lambda x: jnp.broadcast_to(x, (8,) + jnp.shape(x)), state)
  out, metrics = jax.pmap(lambda s, a, b: update(s, a, b, "d"), axis_name="d")(
      rep, v1.reshape(8, 2, 8, 8, 1), v2.reshape(8, 2, 8, 8, 1))
  np.testing.assert_allclose(metrics["loss"], np.full(8, ref_metrics["loss"]), rtol=1e-5)
  for got, want in zip(jax.tree.leaves(out["params"]), jax.tree.leaves(ref["params"])):
    np.testing.assert_allclose(np.asarray(got), np.broadcast_to(want, got.shape), rtol=1e-5, atol=1e-6)
  if method == "moco":
    np.testing.assert_allclose(np.asarray(out["queue"]), np.broadcast_to(ref["queue"], out["queue"].shape), rtol=1e-5,
                               atol=1e-6)
    assert np.all(np.asarray(out["ptr"]) == int(ref["ptr"]))


def test_simclr_trains_through_the_engine_and_is_probed(tmp_path):
  config = tiny_config("simclr", 32)
  config.model.update({"encoder_kwargs": {"channels": (16,), "strides": (2,), "features": 32}, "projection_hidden": 32,
                       "projection_dim": 16})
  config.train.num_steps = 40
  config.optimizer.learning_rate = 1e-2
  task, data, _, _ = contrastive.build(config)
  results = loop.fit(task, data, config, str(tmp_path))
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  train = [r for r in rows if "loss" in r]
  print([round(r["loss"], 3) for r in train])
  assert np.mean([r["loss"] for r in train[-3:]]) < train[0]["loss"] - 0.2
  for k in ("linear@1", "linear@5", "knn@5", "z_linear@5"):
    assert 0.1 < results[k] <= 1.0


def test_clip_captions_and_zero_shot_prediction():
  tokens, vocab = contrastive.caption_tokens(("a {}", "the digit {}"))
  assert tokens.shape == (2, 10, 3) and vocab["seven"] > 0
  inverse = {i: w for w, i in vocab.items()}
  assert " ".join(inverse[i] for i in tokens[1, 7] if i) == "the digit seven"
  config = contrastive.clip_base_config()
  config.clip.templates = ("a digit",)
  with pytest.raises(ConfigError, match="clip.templates"):
    contrastive.clip_build(config)
  config = contrastive.clip_base_config()
  config.loss.temperature = 0
  with pytest.raises(ConfigError, match="loss.temperature"):
    contrastive.clip_build(config)
  # Zero-shot: the class whose mean (normalised) caption embedding is closest in cosine, recomputed here step by step.
  from cs231n_jax.models.registry import get_model

  model = get_model("clip_net", encoder_kwargs={"channels": (4,), "strides": (2,), "features": 8}, projection_hidden=8,
                    projection_dim=4, vocab_size=len(vocab) + 1)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)), jnp.asarray(tokens[0, :1]))["params"]
  images = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype(np.float32)
  pred = contrastive.zero_shot_predict(model, params, images, tokens)
  text = model.apply({"params": params}, jnp.asarray(tokens.reshape(20, 3)), method=type(model).encode_text)
  text = losses.normalize(jnp.mean(losses.normalize(text).reshape(2, 10, -1), 0))
  img = model.apply({"params": params}, jnp.asarray(images), method=type(model).encode_image)
  np.testing.assert_array_equal(pred, np.argmax(np.asarray(losses.normalize(img) @ text.T), -1))


def test_cpc_task_steps_and_rejects_bad_horizons():
  config = contrastive.cpc_base_config()
  config.cpc.update({"code": 8, "context": 8, "hidden": 16, "future_steps": 2})
  config.train.update({"batch_size": 16, "num_steps": 5})
  task, data, _, _ = contrastive.cpc_build(config)
  state = task.init(jax.random.PRNGKey(0), data.example)
  batch = next(data.train)
  new, metrics = jax.jit(task.train_step)(state, batch, jax.random.PRNGKey(1))
  assert np.isfinite(float(metrics["loss"])) and 0.0 <= float(metrics["accuracy"]) <= 1.0
  # Before training, the loss is about log(batch) (16 candidates per prediction).
  assert abs(float(metrics["loss"]) - np.log(16)) < 0.5
  config.cpc.future_steps = 7
  with pytest.raises(ConfigError, match="cpc.future_steps: expected 1..6 for 8 rows, got 7"):
    contrastive.cpc_build(config)


def test_cpc_on_eight_devices_contrasts_the_global_batch(devices):
  """CPC's negatives under pmap are every device's sequences: loss, accuracy and the parameters after an
  SGD step equal one device's over the same global batch of 16."""
  config = contrastive.cpc_base_config()
  config.cpc.update({"code": 8, "context": 8, "hidden": 16, "future_steps": 2})
  config.views.view1 = ""  # the same images on both sides (views are drawn per device otherwise)
  config.optimizer = optim.default_config("sgd", 0.5)
  config.train.update({"batch_size": 16, "num_steps": 5})
  task, data, _, _ = contrastive.cpc_build(config)
  state = task.init(jax.random.PRNGKey(0), data.example)
  batch = {k: np.asarray(v) for k, v in next(data.train).items()}
  key = jax.random.PRNGKey(1)
  ref, ref_metrics = jax.jit(task.train_step)(state, batch, key)
  rep = jax.tree.map(lambda x: jnp.broadcast_to(x, (8,) + jnp.shape(x)), state)
  shard = jax.tree.map(lambda x: x.reshape(8, 2, *x.shape[1:]), batch)
  out, metrics = jax.pmap(lambda s, b: task.train_step(s, b, key, "d"), axis_name="d")(rep, shard)
  np.testing.assert_allclose(metrics["loss"], np.full(8, ref_metrics["loss"]), rtol=1e-5)
  np.testing.assert_allclose(metrics["accuracy"], np.full(8, ref_metrics["accuracy"]), rtol=1e-5)
  for got, want in zip(jax.tree.leaves(out["params"]), jax.tree.leaves(ref["params"])):
    np.testing.assert_allclose(np.asarray(got), np.broadcast_to(want, got.shape), rtol=1e-5, atol=1e-6)


def test_scene_captions_and_retrieval_recall():
  from cs231n_jax.data import scenes as S

  _, scenes = S.generate(6, S.object_pairs(), 0.5, seed=0)
  tokens, vocab, texts = contrastive.scene_captions(scenes)
  inverse = {i: w for w, i in vocab.items()}
  assert [" ".join(inverse[i] for i in row if i) for row in tokens] == texts
  # Embeddings where text j matches image j exactly, except image 0 whose nearest text is text 1.
  texts = ["a red circle", "a blue square", "a red circle", "a green triangle"]
  image = np.eye(4, dtype=np.float32)
  image[0] = [0.0, 1.0, 0.0, 0.0]
  r = contrastive.retrieval_recall_at_1(image, np.eye(4, dtype=np.float32), texts)
  assert r["recall@1_image_to_text"] == 0.75  # image 0 retrieves "a blue square"
  # Text 1's nearest image is image 0 (tie with image 1, argmax takes the first): its caption differs.
  assert r["recall@1_text_to_image"] == 0.75
  np.testing.assert_allclose(r["recall@1_chance"], (0.5 + 0.25 + 0.5 + 0.25) / 4)
