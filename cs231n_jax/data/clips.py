"""Synthetic video clips from real digits (scikit-learn's ``load_digits``) and drawn shapes, built so
that what a video model must see is known: motion only, appearance only, or the order of events.

Every clip is a function of ``(seed, index)`` alone (``numpy.random.default_rng([seed, kind, index])``),
so a set is deterministic and its first ``n`` clips do not depend on how many are drawn. Clips are
``(frames, height, width, 1)`` float32 (NTHWC batches, as the video models read them), 8–48 frames,
16x16 to 64x64 pixels; sprites are 8x8 digits or shapes scaled by ``size // 16``. Every clip comes
with its ground-truth displacement field: ``flow[t, y, x] = (dy, dx)``, where the content at pixel
``(y, x)`` of frame ``t`` is in frame ``t + 1`` (scikit-image's ``optical_flow_*`` convention, row
first; 0 on the background and on a video's last frame).

The kinds (the video lecture's experiments):

- ``"motion"`` (E1): a digit or shape moves left (label 0) or right (label 1) at 1..``max_speed``
  pixels per frame on a horizontally wrapping canvas, from a start column drawn uniformly over all
  columns. Column ``(x0 ± t·v) mod W`` is then uniform for every frame ``t`` under both labels, and
  nothing else (sprite, row, speed, brightness, noise) depends on the label: every single frame has
  exactly the same distribution under both classes, so a model that sees frames one at a time (and
  averages) is at chance by construction.
- ``"appearance"`` (E2): the class is which shape moves (square, circle, triangle, cross); the
  motion (a bouncing random velocity) has the same distribution for every class.
- ``"order"`` (E3): two brief events (a square, then later a circle — label 0; or the circle first —
  label 1), each shown for ``event_frames`` frames at a random place, at least ``gap`` frames apart
  and at least ``margin`` frames from the clip's ends. Any model made of local temporal windows of
  at most ``min(gap, margin)`` frames whose scores are averaged over time sees the same multiset of
  windows under both labels: it is at chance by construction.
- ``"digits"``: 10 classes, the class is the digit; it bounces at a random velocity, a moving shape
  passes over it (occlusion) in half the clips, plus pixel noise.
- ``"two_digits"``: Moving-MNIST-style, two bouncing digits (scaled by ``size // 32``: 16x16 digits
  on a 64x64 canvas) drawn over each other (``labels`` is the first digit; ``digits`` holds both).

Train / val / test clips draw their digits from the disjoint train / val / test images of the
project's digits split (:func:`cs231n_jax.data.digits.split_indices`).

Videos: with ``clips_per_video = K > 1`` a video of ``K · frames`` frames is drawn and cut into ``K``
consecutive clips (arrays ``(N, K, frames, H, W, 1)``): what the video-level metrics (Video Hit@1)
average over.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import ConfigError

KINDS = ("motion", "appearance", "order", "digits", "two_digits")
SHAPES = ("square", "circle", "triangle", "cross")
MIN_FRAMES, MAX_FRAMES = 8, 48
MIN_SIZE, MAX_SIZE = 16, 64
SPLITS = ("train", "val", "test")
CLASS_NAMES = {
    "motion": ("left", "right"),
    "appearance": SHAPES,
    "order": ("square first", "circle first"),
    "digits": tuple(str(d) for d in range(10)),
    "two_digits": tuple(str(d) for d in range(10)),
}


@dataclasses.dataclass(frozen=True)
class ClipSet:
  """``clips`` (N, [K,] T, H, W, 1) float32, ``labels`` (N,) int32, ``flow`` (N, [K,] T, H, W, 2)
  float32 ground-truth displacements ``(dy, dx)`` (None unless asked for), ``positions`` (N, [K,] T,
  S, 2) int32: the top-left corner (row, column) of each of the S sprites in each frame (-1: not shown),
  and ``digits`` (N, 2) for ``two_digits``."""

  kind: str
  clips: np.ndarray
  labels: np.ndarray
  flow: np.ndarray | None
  positions: np.ndarray
  class_names: tuple[str, ...]
  digits: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.labels)


@functools.lru_cache(maxsize=None)
def digit_pool(split: str) -> tuple[np.ndarray, np.ndarray]:
  """The digits of ``split`` (of the project's fixed digits split): (n, 8, 8) in [0, 1], labels."""
  from cs231n_jax.data.digits import MAX_INTENSITY, raw_digits, split_indices

  images, labels = raw_digits()
  idx = dict(zip(SPLITS, split_indices()))[split]
  return images[idx] / MAX_INTENSITY, labels[idx]


def shape_sprite(name: str, s: int) -> np.ndarray:
  """An ``s x s`` binary mask of ``name`` (one of :data:`SHAPES`)."""
  yy, xx = np.mgrid[0:s, 0:s] + 0.5
  c = s / 2
  if name == "square":
    m = (yy > s * 0.15) & (yy < s * 0.85) & (xx > s * 0.15) & (xx < s * 0.85)
  elif name == "circle":
    m = (yy - c) ** 2 + (xx - c) ** 2 < (s * 0.4) ** 2
  elif name == "triangle":
    m = (yy > s * 0.1) & (yy < s * 0.9) & (np.abs(xx - c) < (yy - s * 0.1) * 0.5)
  elif name == "cross":
    m = (np.abs(yy - c) < s * 0.15) | (np.abs(xx - c) < s * 0.15)
  else:
    raise ConfigError(f"shape: expected one of {SHAPES}, got {name!r}")
  return m.astype(np.float32)


def upscale(sprite: np.ndarray, scale: int) -> np.ndarray:
  return np.kron(sprite, np.ones((scale, scale), np.float32)) if scale > 1 else sprite


def bounce(rng: np.random.Generator, frames: int, low: int, high: int, speed: int) -> np.ndarray:
  """Positions in [low, high] of a point moving at a random integer velocity in [-speed, speed],
  reflected at the bounds."""
  p = int(rng.integers(low, high + 1))
  v = int(rng.integers(-speed, speed + 1))
  out = np.empty(frames, np.int64)
  for t in range(frames):
    out[t] = p
    p += v
    if p < low:
      p, v = 2 * low - p, -v
    if p > high:
      p, v = 2 * high - p, -v
  return out


class Canvas:
  """Frames, their displacement field and sprite positions, drawn sprite by sprite (later on top)."""

  def __init__(self, frames: int, size: int, with_flow: bool):
    self.t, self.size = frames, size
    self.video = np.zeros((frames, size, size), np.float32)
    self.flow = np.zeros((frames, size, size, 2), np.float32) if with_flow else None
    self.positions: list[np.ndarray] = []

  def draw(self, sprite: np.ndarray, rows: np.ndarray, cols: np.ndarray, visible: np.ndarray | None = None,
           wrap: bool = False) -> None:
    """``sprite`` with its top-left corner at ``(rows[t], cols[t])`` in frame t (where ``visible``);
    ``wrap`` draws modulo the canvas. The displacement at its pixels is to its position at t + 1."""
    s = sprite.shape[0]
    mask = sprite > 0
    visible = np.ones(self.t, bool) if visible is None else visible
    pos = np.full((self.t, 2), -1, np.int32)
    for t in range(self.t):
      if not visible[t]:
        continue
      r = np.arange(rows[t], rows[t] + s)
      c = np.arange(cols[t], cols[t] + s)
      if wrap:
        r, c = r % self.size, c % self.size
      region = np.ix_(r, c)
      self.video[t][region] = np.where(mask, sprite, self.video[t][region])
      pos[t] = rows[t] % self.size, cols[t] % self.size
      if self.flow is not None and t + 1 < self.t and visible[t + 1]:
        d = np.array([rows[t + 1] - rows[t], cols[t + 1] - cols[t]], np.float32)
        self.flow[t][region] = np.where(mask[..., None], d, self.flow[t][region])
    self.positions.append(pos)


def check_args(kind: str, frames: int, size: int, clips_per_video: int) -> None:
  if kind not in KINDS:
    raise ConfigError(f"data.kind: expected one of {KINDS}, got {kind!r}")
  if not isinstance(frames, (int, np.integer)) or not MIN_FRAMES <= frames <= MAX_FRAMES:
    raise ConfigError(f"data.frames: expected an integer in [{MIN_FRAMES}, {MAX_FRAMES}], got {frames!r}")
  if not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
    raise ConfigError(f"data.size: expected an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")
  if not isinstance(clips_per_video, (int, np.integer)) or clips_per_video < 1:
    raise ConfigError(f"data.clips_per_video: expected a positive integer, got {clips_per_video!r}")
  if kind == "order" and clips_per_video != 1:
    raise ConfigError("data.clips_per_video: an 'order' clip is a whole video; expected 1")


def one_video(kind: str, rng: np.random.Generator, frames: int, size: int, split: str, with_flow: bool,
              noise: float, max_speed: int, event_frames: int, gap: int, margin: int):
  """(video (L, H, W), flow, positions (L, S, 2), label, digits) of one video of ``frames`` frames."""
  scale = max(1, size // (32 if kind == "two_digits" else 16))
  s = 8 * scale
  canvas = Canvas(frames, size, with_flow)
  images, digit_labels = digit_pool(split)
  digits = None
  if kind == "motion":
    label = int(rng.integers(2))
    if rng.random() < 0.5:
      sprite = upscale(images[rng.integers(len(images))], scale)
    else:
      sprite = upscale(shape_sprite(SHAPES[rng.integers(len(SHAPES))], 8), scale)
    sprite = sprite * rng.uniform(0.5, 1.0)
    speed = int(rng.integers(1, max_speed + 1)) * scale
    x0 = int(rng.integers(size))
    row = int(rng.integers(size - s + 1))
    t = np.arange(frames)
    cols = x0 + (1 if label == 1 else -1) * speed * t
    canvas.draw(sprite, np.full(frames, row), cols, wrap=True)
  elif kind == "appearance":
    label = int(rng.integers(len(SHAPES)))
    sprite = upscale(shape_sprite(SHAPES[label], 8), scale) * rng.uniform(0.5, 1.0)
    canvas.draw(sprite, bounce(rng, frames, 0, size - s, max_speed * scale), bounce(rng, frames, 0, size - s, max_speed * scale))
  elif kind == "order":
    label = int(rng.integers(2))
    e = event_frames
    last_first = frames - margin - 2 * e - gap
    if last_first < margin:
      raise ConfigError(f"data.frames: {frames} frames cannot hold two {e}-frame events {gap} apart, {margin} from the ends")
    t1 = int(rng.integers(margin, last_first + 1))
    t2 = int(rng.integers(t1 + e + gap, frames - margin - e + 1))
    first, second = ("square", "circle") if label == 0 else ("circle", "square")
    for name, start in ((first, t1), (second, t2)):
      visible = np.zeros(frames, bool)
      visible[start:start + e] = True
      r, c = int(rng.integers(size - s + 1)), int(rng.integers(size - s + 1))
      canvas.draw(upscale(shape_sprite(name, 8), scale) * rng.uniform(0.5, 1.0), np.full(frames, r), np.full(frames, c), visible)
  elif kind == "digits":
    i = int(rng.integers(len(images)))
    label = int(digit_labels[i])
    sprite = upscale(images[i], scale) * rng.uniform(0.6, 1.0)
    canvas.draw(sprite, bounce(rng, frames, 0, size - s, max_speed * scale), bounce(rng, frames, 0, size - s, max_speed * scale))
    if rng.random() < 0.5:  # an occluder passing over the digit
      occluder = upscale(shape_sprite(SHAPES[rng.integers(len(SHAPES))], 8)[: 4, :], scale) * rng.uniform(0.3, 0.8)
      occluder = np.pad(occluder, ((0, s - occluder.shape[0]), (0, 0)))
      canvas.draw(occluder, bounce(rng, frames, 0, size - s, max_speed * scale), bounce(rng, frames, 0, size - s, max_speed * scale))
    else:
      canvas.positions.append(np.full((frames, 2), -1, np.int32))
  else:  # two_digits
    picks = rng.integers(len(images), size=2)
    digits = digit_labels[picks].astype(np.int32)
    label = int(digits[0])
    for i in picks:
      canvas.draw(upscale(images[i], scale), bounce(rng, frames, 0, size - s, max_speed * scale),
                  bounce(rng, frames, 0, size - s, max_speed * scale))
  video = canvas.video
  if noise > 0:
    video = video + rng.normal(0.0, noise, video.shape).astype(np.float32)
  return video, canvas.flow, np.stack(canvas.positions, axis=1), label, digits


def make_clips(kind: str, num: int, seed: int = 0, frames: int = 16, size: int = 32, split: str = "train",
               clips_per_video: int = 1, with_flow: bool = False, noise: float = 0.05, max_speed: int = 2,
               event_frames: int = 2, gap: int = 8, margin: int = 6) -> ClipSet:
  """``num`` videos of ``kind`` (see the module docstring), each ``clips_per_video`` clips of
  ``frames`` frames at ``size x size``; clip ``i`` is a function of ``(seed, kind, split, i)``."""
  check_args(kind, frames, size, clips_per_video)
  if split not in SPLITS:
    raise ConfigError(f"data.split: expected one of {SPLITS}, got {split!r}")
  if not isinstance(num, (int, np.integer)) or num < 1:
    raise ConfigError(f"data.num: expected a positive number of clips, got {num!r}")
  length = frames * clips_per_video
  salt = (KINDS.index(kind), SPLITS.index(split))
  videos, flows, positions, labels, digits = [], [], [], [], []
  for i in range(num):
    rng = np.random.default_rng([seed, *salt, i])
    v, f, p, y, d = one_video(kind, rng, length, size, split, with_flow, noise, max_speed, event_frames, gap, margin)
    videos.append(v)
    flows.append(f)
    positions.append(p)
    labels.append(y)
    digits.append(d)

  def cut(a):  # (N, L, ...) -> (N, K, T, ...) when K > 1
    a = np.stack(a)
    return a.reshape(num, clips_per_video, frames, *a.shape[2:]) if clips_per_video > 1 else a

  return ClipSet(kind=kind, clips=cut(videos)[..., None], labels=np.asarray(labels, np.int32),
                 flow=cut(flows) if with_flow else None, positions=cut(positions), class_names=CLASS_NAMES[kind],
                 digits=np.stack(digits) if kind == "two_digits" else None)


# ---------------------------------------------------------------------------------------------
# As a data set for the engine (the video task): training clips, validation / test videos.
# ---------------------------------------------------------------------------------------------

FLOW_SOURCES = ("", "ground_truth", "tvl1", "ilk")


def attach_flow(clips: np.ndarray, flow: np.ndarray | None, source: str) -> np.ndarray:
  """``clips`` with two flow channels ``(dy, dx)`` appended: the ground truth, or estimated by
  scikit-image (:func:`cs231n_jax.video.flow.estimate_flow`)."""
  if source == "":
    return clips
  if source == "ground_truth":
    if flow is None:
      raise ConfigError("data.flow: the ground truth was not generated")
    return np.concatenate([clips, flow], axis=-1)
  if source in ("tvl1", "ilk"):
    from cs231n_jax.video.flow import estimate_flow

    flat = clips.reshape(-1, *clips.shape[-4:])
    est = np.stack([estimate_flow(c[..., 0], source) for c in flat]).reshape(*clips.shape[:-1], 2)
    return np.concatenate([clips, est], axis=-1)
  raise ConfigError(f"data.flow: expected one of {FLOW_SOURCES}, got {source!r}")


def clip_dataset(data: Mapping[str, Any], seed: int = 0) -> ImageDataset:
  """The data set a video config's ``data`` block describes (``data.name = "clips"``): ``num_train``
  training clips, ``num_val`` / ``num_test`` videos of ``clips_per_video`` clips each, of ``kind``;
  ``flow`` appends two displacement channels (``ground_truth`` / ``tvl1`` / ``ilk``)."""
  kind = data.get("kind", "motion")
  flow_source = data.get("flow", "")
  if flow_source not in FLOW_SOURCES:
    raise ConfigError(f"data.flow: expected one of {FLOW_SOURCES}, got {flow_source!r}")
  common = {"frames": data.get("frames", 16), "size": data.get("size", 32), "noise": data.get("noise", 0.05),
            "max_speed": data.get("max_speed", 2), "event_frames": data.get("event_frames", 2),
            "gap": data.get("gap", 8), "margin": data.get("margin", 6), "with_flow": flow_source == "ground_truth"}
  k = data.get("clips_per_video", 1)
  splits = {}
  for name, num, per_video in (("train", data.get("num_train", 1000), 1), ("val", data.get("num_val", 200), k),
                               ("test", data.get("num_test", 500), k)):
    cs = make_clips(kind, num, seed=data.get("seed", seed), split=name, clips_per_video=per_video, **common)
    splits[name] = Split(attach_flow(cs.clips, cs.flow, flow_source).astype(np.float32), cs.labels)
  return ImageDataset(name=f"clips[{kind}]", train=splits["train"], val=splits["val"], test=splits["test"],
                      num_classes=len(CLASS_NAMES[kind]), class_names=CLASS_NAMES[kind], mean_image=None)
