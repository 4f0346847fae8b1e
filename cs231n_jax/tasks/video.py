"""Video classification as a task: the classification task on clips, with clip- and video-level metrics.

Training is image classification's (:mod:`cs231n_jax.tasks.classification`: softmax cross-entropy
on the valid examples of the global batch, the same optimizer, transfer and babysitting options),
reused rather than copied: a training example is one clip ``(T, H, W, C)``. What a video adds is
the evaluation: a validation / test example is a *video* of ``K`` clips ``(K, T, H, W, C)`` (or one
clip), and the metrics are Karpathy et al. 2014's:

- **Clip Hit@1**: the fraction of clips whose top class is the video's label (every clip of every
  video counts once: videos have the same number of clips);
- **Video Hit@1**: the top class of the clips' *averaged softmax* is the label;
- **Video Hit@5**: the label is among the five classes with the highest averaged softmax (with fewer
  than five classes every label is, so it is 1).

The lecture's table (Sports-1M, 487 classes: single-frame 59.3% Video Hit@1, slow fusion 60.9%) needs
data we do not have; the metric definitions are the usual ones (the lecture does not spell them out).
``data.name``: ``"clips"`` (the synthetic clips of :mod:`cs231n_jax.data.clips`) or
``"video_folder"`` (a UCF-101-style folder of real videos, :mod:`cs231n_jax.data.video_files`).
The best state is the one with the highest validation Video Hit@1.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax import video as video_models  # noqa: F401  (registers the video family)
from cs231n_jax.data.clips import clip_dataset
from cs231n_jax.data.pipeline import eval_batches
from cs231n_jax.data.video_files import video_dataset
from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import classification
from cs231n_jax.train import loop, parallel, report
from cs231n_jax.train.state import TrainState, create_train_state

RUNNER = "cs231n_jax.tasks.video:run"
DATA_SOURCES = ("clips", "video_folder")
TOP_K = 5


def base_config() -> ml_collections.ConfigDict:
  """Classification's defaults with a clip data block and a small video model."""
  c = classification.base_config()
  c.runner = RUNNER
  c.data = ml_collections.ConfigDict({
      "name": "clips", "kind": "motion", "frames": 8, "size": 16, "noise": 0.05, "max_speed": 2,
      "event_frames": 2, "gap": 8, "margin": 6, "flow": "", "clips_per_video": 1,
      "num_train": 2000, "num_val": 250, "num_test": 1000, "seed": 0,
      # video_folder: the folder of class subfolders, temporal stride, split fractions, colour
      "dir": "", "stride": 1, "val_fraction": 0.1, "test_fraction": 0.2, "grayscale": False,
      "augment": "", "workers": 0, "prefetch": 2,
  })
  c.model = ml_collections.ConfigDict({"name": "slow_fusion"})
  c.optimizer = optim.default_config("adam", 1e-3)
  c.train.batch_size = 32
  c.train.num_epochs = 0
  c.train.num_steps = 400
  c.train.eval_every = 100
  c.train.eval_batch_size = 250
  return c


def load_video_data(config: ml_collections.ConfigDict):
  name = config.data.get("name", "clips")
  if name == "clips":
    return clip_dataset(config.data, seed=config.seed)
  if name == "video_folder":
    return video_dataset(config.data, seed=config.seed)
  raise ConfigError(f"data.name: expected one of {DATA_SOURCES} for a video task, got {name!r}")


class RepeatedClips:
  """The training clips as videos of ``k`` copies of one clip (for the training split's evaluation:
  one compiled evaluation step for every split; a video of identical clips scores as its clip)."""

  def __init__(self, split, k: int):
    self.split, self.k = split, k

  def __len__(self) -> int:
    return len(self.split)

  def get_batch(self, indices, rng=None):
    images, labels = self.split.get_batch(indices, rng)
    return np.repeat(images[:, None], self.k, axis=1), labels


def video_data(dataset, config: ml_collections.ConfigDict):
  """Classification's data (training clips; val / test videos), with the training split evaluated
  as videos of the same number of clips as val / test."""
  data = classification.classification_data(dataset, config)
  train_rank, video_rank = dataset.train.images.ndim, dataset.test.images.ndim
  if video_rank == train_rank + 1:
    k = dataset.test.images.shape[1]
    t = config.train
    loader = {"workers": config.data.get("workers", 0), "prefetch": config.data.get("prefetch", 0)}
    data.eval["train"] = lambda: eval_batches(RepeatedClips(dataset.train, k), t.eval_batch_size, dataset.num_classes,
                                              jax.process_index(), jax.process_count(), "train", **loader)
  return data


def video_logits(state: TrainState, videos: jax.Array) -> jax.Array:
  """(B, K, classes) float32 logits of every clip of every video (a (B, T, H, W, C) batch is K = 1)."""
  if videos.ndim == 5:
    videos = videos[:, None]
  if videos.ndim != 6:
    raise ConfigError(f"clips: expected (batch, [clips,] frames, height, width, channels), got shape {tuple(videos.shape)}")
  b, k = videos.shape[:2]
  logits, _, _ = classification.apply_model(state, state.params, videos.reshape(b * k, *videos.shape[2:]), False, state.rng)
  return logits.reshape(b, k, -1)


def video_metrics(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
  """Sums over the valid videos of a batch: Clip Hit@1, Video Hit@1 / Hit@5, the clips' mean
  cross-entropy, count, and the video-level confusion matrix."""
  num_classes = logits.shape[-1]
  clip_hit = jnp.mean(jnp.argmax(logits, -1) == labels[:, None], axis=1)
  probs = jnp.mean(jax.nn.softmax(logits, -1), axis=1)
  pred = jnp.argmax(probs, -1)
  _, top = jax.lax.top_k(probs, min(TOP_K, num_classes))
  hit5 = jnp.any(top == labels[:, None], axis=1)
  losses = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels[:, None]), axis=1)
  confusion = jnp.zeros((num_classes, num_classes), jnp.float32).at[labels, pred].add(mask)
  video_hit = (pred == labels) * mask
  return {"loss_sum": jnp.sum(losses * mask), "clip_hit1_sum": jnp.sum(clip_hit * mask),
          "video_hit1_sum": jnp.sum(video_hit), "video_hit5_sum": jnp.sum(hit5 * mask),
          "accuracy_sum": jnp.sum(video_hit), "count": jnp.sum(mask), "confusion": confusion}


def eval_step(state: TrainState, batch):
  return video_metrics(video_logits(state, batch["image"]), batch["label"], batch["mask"])


def video_task(model, tx, **kwargs):
  """Classification's task on clips with the video evaluation; the best state has the highest
  validation Video Hit@1."""
  task = classification.classification_task(model, tx, **kwargs)
  return dataclasses.replace(task, init=jitted_init(model, tx), eval_step=eval_step, metric="video_hit1", mode="max",
                             name="video")


def jitted_init(model, tx):
  """Classification's initialisation (``create_train_state`` on one example), compiled as one program:
  run eagerly, every initializer of every layer shape is compiled op by op (tens of seconds for a
  small 3-D CNN on a loaded CPU); the values are the same random draws."""
  init = jax.jit(lambda key, image: create_train_state(model, tx, image, key))
  return lambda key, example: init(key, example["image"][:1])


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, dataset)`` for a video config."""
  classification.check_config(config)
  parallel.initialize()
  t = config.train
  dataset = load_video_data(config)
  data = video_data(dataset, config)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  model = classification.prepare_model(classification.build_model(config.model, dataset.num_classes, t.compute_dtype), t.step)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    if jax.process_index() == 0:
      report.plot_confusion(evals["test"]["confusion"], dataset.class_names, epath.Path(workdir) / classification.CONFUSION_NAME)
      rows = [("model", config.model.name), ("data", dataset.name), ("steps", num_steps)]
      for split in ("train", "val", "test"):
        e = evals[split]
        rows.append((f"{split} clip / video Hit@1, Hit@5",
                     f"{e['clip_hit1']:.4f} / {e['video_hit1']:.4f}, {e['video_hit5']:.4f}"))
      rows.append(("test videos", len(dataset.test)))
      rows.append(("workdir", str(workdir)))
      print(report.summary_table(rows))
    return {}

  task = video_task(model, tx, augment_ops=classification.parse_augment(config.data.get("augment", "")),
                    aux_loss_weight=t.aux_loss_weight, log_update_ratio=t.get("log_update_ratio", False),
                    init_from=t.get("init_from", ""), init_keep_fresh=tuple(t.get("init_keep_fresh", ())),
                    finish=finish if with_report else None)
  return task, data, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model`` on the clips of ``config.data`` in ``workdir``; returns the final results
  (``test_clip_hit1``, ``test_video_hit1``, ``test_video_hit5``, ...)."""
  task, data, _ = build(config, with_report=True)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  task, data, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
