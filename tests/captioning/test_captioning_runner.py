"""The course's overfitting checks (50 captions: final loss < 0.1 RNN, < 0.5 LSTM, < 0.03
transformer) and the captioning runner on COCO-format files: metrics, resume, vocabulary check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cs231n_jax.captioning import coco as C
from cs231n_jax.captioning import data as D
from cs231n_jax.captioning.vocab import Vocabulary
from cs231n_jax.config import load_config
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.tasks import captioning as T


@pytest.fixture(scope="module")
def scenes():
  return D.load_scenes(num_train=100, num_val=20, num_test=20, seed=0)


COURSE_SIZES = {"rnn": dict(wordvec_dim=256, hidden_dim=512), "lstm": dict(wordvec_dim=256, hidden_dim=512),
                "transformer": dict(wordvec_dim=256, num_heads=2, num_layers=2, mlp_dim=512, dropout_rate=0.0)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm", "transformer"])  # the RNN's check runs in colab/08
def test_overfit_50_examples_reaches_the_course_threshold(name, scenes, tmp_path):
  config = T.overfit_config(name, num_examples=50, **COURSE_SIZES[name])
  history = T.overfit(config, D.pooled_features(scenes.train), scenes.vocab, scenes.max_length, str(tmp_path),
                      num_examples=50)
  epochs = 100 if name == "transformer" else 50
  assert len(history) == epochs * 2  # 50 examples in minibatches of 25
  assert history[0] > 10 * history[-1]
  assert history[-1] < T.OVERFIT_THRESHOLDS[name], history[-10:]


def _tiny_config(directory, name="lstm"):
  c = T.base_config(name)
  c.data.name, c.data.dir = "coco", str(directory)
  c.model.update(wordvec_dim=16, hidden_dim=32, attention_dim=16)
  c.train.update(batch_size=40, num_epochs=2, log_every=2, eval_batch_size=16, progress=False, async_checkpoints=False)
  return c


@pytest.mark.slow
def test_runner_on_coco_format_files_resumes_and_checks_the_vocabulary(tmp_path, scenes):
  coco = tmp_path / "coco"
  feats = D.pooled_features(scenes.train)
  C.write_coco_format(str(coco), scenes.train.captions, scenes.train.image_idxs, feats.inputs,
                      scenes.val.captions, scenes.val.image_idxs, D.pooled_features(scenes.val).inputs, scenes.vocab)
  c = _tiny_config(coco)
  results = T.run(c, str(tmp_path / "run"))
  assert results["data"] == "coco" and results["steps"] == 10  # 200 captions / 40, two epochs
  assert results["status"] == "trained" and results["val_loss"] > 0 and 0 <= results["test_word_accuracy"] <= 1
  for split in ("val", "test"):
    r = results[split]
    assert 0.0 <= r["greedy_exact_match"] <= 1.0 and 0.0 <= r["greedy_bleu1"] <= 1.0
    assert "beam3_bleu4" in r and len(r["examples"]) == 8
  saved = json.loads((tmp_path / "run" / "results.json").read_text())
  assert saved["val"]["greedy_bleu1"] == pytest.approx(results["val"]["greedy_bleu1"])
  # A longer run in the same workdir continues after epoch 2; `eval` reads its best checkpoint.
  c.train.num_epochs = 3
  with pytest.warns(UserWarning, match="schedule"):  # the cosine schedule now spans 15 steps
    again = T.run(c, str(tmp_path / "run"))
  assert again["steps"] == 15 and again["status"] == "trained"
  assert T.evaluate(c, str(tmp_path / "run"), "val")["loss"] == pytest.approx(again["val_loss"], rel=1e-5)
  # `report` decodes the best checkpoint again: the finished run's report, without training.
  reported = T.report(c, str(tmp_path / "run"))
  assert reported["test"]["greedy_bleu4"] == pytest.approx(again["test"]["greedy_bleu4"])
  assert reported["val"]["beam3_exact_match"] == again["val"]["beam3_exact_match"]
  # Files with another vocabulary (one more word) are refused in one line.
  other = Vocabulary(scenes.vocab.idx_to_word + ("purple",))
  C.write_coco_format(str(coco), scenes.train.captions, scenes.train.image_idxs, feats.inputs,
                      scenes.val.captions, scenes.val.image_idxs, D.pooled_features(scenes.val).inputs, other)
  with pytest.raises(CheckpointError, match="different caption vocabulary") as info:
    T.run(c, str(tmp_path / "run"))
  assert "\n" not in str(info.value)


def test_configs_load_and_bad_training_fields(tmp_path):
  for name in ("rnn", "lstm", "attention_lstm", "transformer"):
    c = load_config(f"experiments/configs/captioning/{name}.py")
    assert c.model.name == name and c.runner == "cs231n_jax.tasks.captioning:run"
  assert load_config("experiments/configs/captioning/attention_lstm.py").model.doubly_stochastic == 0.0
  assert load_config("experiments/configs/captioning/attention_lstm.py:plain").to_dict() == \
      load_config("experiments/configs/captioning/attention_lstm.py").to_dict()
  assert load_config("experiments/configs/captioning/attention_lstm.py:doubly_stochastic").model.doubly_stochastic == 1.0
  overfit = load_config("experiments/configs/captioning/overfit.py")
  assert overfit.models == ("rnn", "lstm", "attention_lstm", "transformer")
  assert overfit.runner == "cs231n_jax.tasks.captioning:run_overfit_checks"
  c = T.base_config("lstm")
  c.train.batch_size = 0
  with pytest.raises(ConfigError, match="train.batch_size"):
    T.run(c, str(tmp_path))
  c = T.base_config("lstm")
  c.data.update(num_train=10, num_val=2, num_test=2)
  c.train.batch_size = 64
  with pytest.raises(ConfigError, match="train.batch_size: 64 exceeds the 20 training captions"):
    T.run(c, str(tmp_path))
  c = T.base_config("gru")
  c.data.update(num_train=40, num_val=2, num_test=2)
  with pytest.raises(ConfigError, match="model.name"):
    T.run(c, str(tmp_path))


def test_loss_is_the_course_temporal_softmax_loss():
  import jax.numpy as jnp

  from cs231n_jax import layers as L

  rng = np.random.default_rng(0)
  logits = rng.standard_normal((3, 4, 6)).astype(np.float32)
  targets = np.array([[4, 5, 2, 0], [4, 2, 0, 0], [5, 5, 5, 2]])
  ours = float(T.caption_loss(jnp.asarray(logits), jnp.asarray(targets)))
  course, _ = L.temporal_softmax_loss(logits, targets, targets != 0)
  assert ours == pytest.approx(float(course), rel=1e-5)
  # Doubly stochastic penalty: attention spread evenly over 2 locations for 2 real steps sums to 1
  # per location, so the penalty is 0; all on one location gives (1 - 2)^2 + (1 - 0)^2 = 2.
  even = jnp.full((1, 2, 2), 0.5)
  one = jnp.array([[[1.0, 0.0], [1.0, 0.0]]])
  real = jnp.array([[4, 2]])
  assert float(T.doubly_stochastic_penalty(even, real)) == pytest.approx(0.0)
  assert float(T.doubly_stochastic_penalty(one, real)) == pytest.approx(2.0)
