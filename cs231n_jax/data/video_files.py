"""Real video files (mp4, avi, ...) decoded with PyAV into fixed-length clips, labelled by folder.

A UCF-101-style directory has one subfolder per class (``root/ApplyEyeMakeup/v_...avi``); class
indices follow the sorted folder names. If ``root`` holds ``train/`` and ``test/`` folders (each with
the class subfolders) those are the splits; otherwise the videos of each class are split by a seeded
permutation into train / val / test fractions. Splits are by video, never by clip, so clips of one
video never land in two splits.

Every video is decoded (resized to ``size x size`` RGB by FFmpeg's scaler), subsampled by a temporal
``stride`` (every ``stride``-th frame), and cut into ``clips_per_video`` clips of ``frames``
frames whose starts are spread evenly over the video. A file that cannot be decoded, or is too short
for one clip, is a one-line :class:`~cs231n_jax.errors.DataError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")


def read_video(path: str | Path, size: int | None = None) -> np.ndarray:
  """All frames of ``path`` as (T, H, W, 3) uint8 RGB (resized to ``size x size`` when given)."""
  import av

  kwargs = {"format": "rgb24"} if size is None else {"format": "rgb24", "width": size, "height": size}
  try:
    with av.open(str(path)) as container:
      frames = [f.to_ndarray(**kwargs) for f in container.decode(video=0)]
  except (av.error.FFmpegError, ValueError, IndexError, OSError) as e:
    raise DataError(f"{path}: cannot decode the video ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
  if not frames:
    raise DataError(f"{path}: the file has no video frames")
  return np.stack(frames)


def cut_clips(video: np.ndarray, frames: int, stride: int = 1, clips_per_video: int = 1, where: str = "video") -> np.ndarray:
  """(clips_per_video, frames, H, W, C): every ``stride``-th frame, clips starting at evenly spaced
  positions from the first to the last possible start."""
  if frames < 1 or stride < 1 or clips_per_video < 1:
    raise DataError(f"{where}: frames, stride and clips_per_video must be positive, got {frames}, {stride}, {clips_per_video}")
  sub = video[::stride]
  if len(sub) < frames:
    raise DataError(f"{where}: {len(video)} frames at stride {stride} give {len(sub)}, fewer than a clip of {frames} frames")
  starts = np.linspace(0, len(sub) - frames, clips_per_video).round().astype(int)
  return np.stack([sub[s:s + frames] for s in starts])


def class_folders(root: Path) -> list[str]:
  names = sorted(p.name for p in root.iterdir() if p.is_dir())
  if not names:
    raise DataError(f"data.dir: {root} has no class subfolders")
  return names


def videos_of(root: Path, class_names: list[str]) -> list[tuple[Path, int]]:
  out = []
  for c, name in enumerate(class_names):
    folder = root / name
    if folder.is_dir():
      out += [(p, c) for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_EXTENSIONS]
  return out


def split_videos(items: list[tuple[Path, int]], val_fraction: float, test_fraction: float, seed: int):
  """Per class, a seeded permutation of its videos: the first test, then val, the rest train."""
  out = {"train": [], "val": [], "test": []}
  rng = np.random.default_rng(seed)
  for c in sorted({c for _, c in items}):
    mine = [it for it in items if it[1] == c]
    order = rng.permutation(len(mine))
    n_test = int(round(test_fraction * len(mine)))
    n_val = int(round(val_fraction * len(mine)))
    for rank, i in enumerate(order):
      out["test" if rank < n_test else "val" if rank < n_test + n_val else "train"].append(mine[i])
  return out


def decode_split(items, frames, size, stride, clips_per_video, grayscale) -> tuple[np.ndarray, np.ndarray]:
  """(N, K, frames, size, size, C) float32 in [0, 1] and (N,) labels."""
  clips, labels = [], []
  for path, label in items:
    video = read_video(path, size)
    c = cut_clips(video, frames, stride, clips_per_video, where=str(path)).astype(np.float32) / 255.0
    if grayscale:
      c = c.mean(axis=-1, keepdims=True)
    clips.append(c)
    labels.append(label)
  return np.stack(clips), np.asarray(labels, np.int32)


def load_video_folder(root: str | Path, frames: int = 16, size: int = 32, stride: int = 1, clips_per_video: int = 1,
                      val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                      grayscale: bool = False) -> ImageDataset:
  """The classification data set of a folder of videos: training examples are single clips (every
  clip of every training video), validation and test examples are videos of ``clips_per_video``
  clips (``(N, K, T, H, W, C)``), for clip- and video-level metrics."""
  root = Path(root)
  if not root.is_dir():
    raise DataError(f"data.dir: {root} is not a directory")
  if (root / "train").is_dir() and (root / "test").is_dir():
    class_names = class_folders(root / "train")
    train_items = videos_of(root / "train", class_names)
    parts = split_videos(train_items, val_fraction, 0.0, seed)
    parts["test"] = videos_of(root / "test", class_names)
  else:
    class_names = class_folders(root)
    parts = split_videos(videos_of(root, class_names), val_fraction, test_fraction, seed)
  splits = {}
  for name in ("train", "val", "test"):
    if not parts[name]:
      raise DataError(f"data.dir: no {name} videos in {root} (check the class folders and the val / test fractions)")
    x, y = decode_split(parts[name], frames, size, stride, clips_per_video, grayscale)
    if name == "train":  # every clip of every training video is one example
      x, y = x.reshape(-1, *x.shape[2:]), np.repeat(y, x.shape[1])
    elif clips_per_video == 1:
      x = x[:, 0]
    splits[name] = Split(x, y)
  return ImageDataset(name=f"videos[{root.name}]", train=splits["train"], val=splits["val"], test=splits["test"],
                      num_classes=len(class_names), class_names=tuple(class_names), mean_image=None)


def video_dataset(data: Mapping[str, Any], seed: int = 0) -> ImageDataset:
  """``load_video_folder`` from a config's ``data`` block (``data.name = "video_folder"``)."""
  if not data.get("dir"):
    raise DataError("data.dir: a video_folder data set needs the folder of class subfolders")
  return load_video_folder(data["dir"], frames=data.get("frames", 16), size=data.get("size", 32),
                           stride=data.get("stride", 1), clips_per_video=data.get("clips_per_video", 1),
                           val_fraction=data.get("val_fraction", 0.1), test_fraction=data.get("test_fraction", 0.2),
                           seed=data.get("seed", seed), grayscale=data.get("grayscale", False))
