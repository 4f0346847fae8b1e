"""The video task: clip / video Hit@k against NumPy, and runs through the engine on clips and on a
folder of real video files."""

import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import video


def make_folder(root, per_class):
  """Two classes of short mp4 files (dark and light grey ramps), written with PyAV."""
  import av

  for c, name in enumerate(["Dark", "Light"]):
    (root / name).mkdir(parents=True)
    for i in range(per_class):
      with av.open(str(root / name / f"v_{name}_g{i:02d}.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for f in range(10):
          frame = np.full((16, 16, 3), 30 + 120 * c + 5 * f + i, np.uint8)
          for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
          container.mux(packet)


def test_video_metrics_match_numpy():
  rng = np.random.default_rng(0)
  b, k, c = 7, 3, 6
  logits = rng.normal(size=(b, k, c)).astype(np.float32)
  labels = rng.integers(c, size=b)
  mask = np.array([1, 1, 1, 1, 1, 1, 0], np.float32)
  got = {n: float(v) for n, v in video.video_metrics(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(mask)).items()
         if n != "confusion"}
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  mean = probs.mean(1)
  clip = (logits.argmax(-1) == labels[:, None]).mean(1)
  top5 = np.argsort(-mean, -1)[:, :5]
  hit5 = (top5 == labels[:, None]).any(1)
  v = mask.astype(bool)
  assert got["count"] == 6
  np.testing.assert_allclose(got["clip_hit1_sum"], clip[v].sum(), rtol=1e-6)
  np.testing.assert_allclose(got["video_hit1_sum"], (mean.argmax(-1) == labels)[v].sum())
  np.testing.assert_allclose(got["video_hit5_sum"], hit5[v].sum())
  ce = -np.log(probs[np.arange(b), :, labels]).mean(1)
  np.testing.assert_allclose(got["loss_sum"], ce[v].sum(), rtol=1e-5)
  # a video's clips can disagree: Clip Hit@1 and Video Hit@1 differ here
  assert got["clip_hit1_sum"] != got["video_hit1_sum"]


def tiny_config(**data):
  c = video.base_config()
  c.data.update({"frames": 8, "size": 16, "num_train": 64, "num_val": 16, "num_test": 16, "clips_per_video": 2, **data})
  c.model.name = "early_fusion"
  c.model.widths = (8, 8)
  c.model.hidden = 16
  c.optimizer.learning_rate = 3e-3
  c.train.update({"num_steps": 60, "eval_every": 60, "batch_size": 16, "eval_batch_size": 16, "progress": False,
                  "async_checkpoints": False})
  return c


def test_early_fusion_learns_motion_through_the_engine(tmp_path):
  """A tiny run of E1 (left / right motion): the engine's results carry the three video metrics and
  the early-fusion model fits its 64 training clips."""
  results = video.run(tiny_config(), str(tmp_path / "run"))
  for split in ("train", "val", "test"):
    for m in ("clip_hit1", "video_hit1", "video_hit5"):
      assert 0.0 <= results[f"{split}_{m}"] <= 1.0
  assert results["test_video_hit5"] == 1.0  # two classes: always in the top 5
  assert results["train_video_hit1"] >= 0.9


def test_a_folder_of_videos_trains_unchanged(tmp_path):
  make_folder(tmp_path / "videos", per_class=4)
  c = tiny_config(name="video_folder", dir=str(tmp_path / "videos"), frames=4, size=16, stride=2,
                  val_fraction=0.25, test_fraction=0.25)
  c.model.name = "single_frame"
  del c.model["widths"], c.model["hidden"]
  c.model.widths = (4,)
  c.model.hidden = 8
  c.train.num_steps = 5
  c.train.eval_every = 5
  results = video.run(c, str(tmp_path / "run"))
  assert results["steps"] == 5 and "test_video_hit1" in results


def test_bad_data_source_and_clip_rank_are_named():
  c = tiny_config()
  c.data.name = "digits"
  with pytest.raises(ConfigError, match="data.name"):
    video.load_video_data(c)
  with pytest.raises(ConfigError, match="clips: expected"):
    video.video_logits(None, jnp.zeros((2, 16, 16, 1)))
