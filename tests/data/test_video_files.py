"""Reading a UCF-101-style folder of real video files (written here with PyAV) into clips."""

import numpy as np
import pytest

from cs231n_jax.data import video_files
from cs231n_jax.errors import DataError


def write_video(path, frames: np.ndarray, codec: str, rate: int = 10):
  import av

  with av.open(str(path), "w") as container:
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    for f in frames:
      for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def ramp(n: int, size: int = 32, offset: int = 0) -> np.ndarray:
  """Frame i is a flat grey of level 10 * i + offset (so the frame index can be read back)."""
  return np.stack([np.full((size, size, 3), 10 * i + offset, np.uint8) for i in range(n)])


@pytest.mark.parametrize("suffix,codec", [(".mp4", "mpeg4"), (".avi", "mjpeg")])
def test_read_video_and_resize(tmp_path, suffix, codec):
  path = tmp_path / f"v{suffix}"
  write_video(path, ramp(12), codec)
  video = video_files.read_video(path, size=16)
  assert video.shape == (12, 16, 16, 3) and video.dtype == np.uint8
  levels = video.reshape(12, -1).mean(axis=1)
  np.testing.assert_allclose(levels, 10 * np.arange(12), atol=4)


def test_cut_clips_with_stride():
  video = np.arange(20)[:, None, None, None] * np.ones((1, 2, 2, 1))
  clips = video_files.cut_clips(video, frames=4, stride=2, clips_per_video=3)
  assert clips.shape == (3, 4, 2, 2, 1)
  np.testing.assert_array_equal(clips[:, :, 0, 0, 0], [[0, 2, 4, 6], [6, 8, 10, 12], [12, 14, 16, 18]])
  with pytest.raises(DataError, match="short.mp4: 20 frames at stride 4 give 5, fewer than a clip of 8"):
    video_files.cut_clips(video, frames=8, stride=4, where="short.mp4")


def make_folder(root, per_class=5):
  for c, name in enumerate(["Dark", "Light"]):
    (root / name).mkdir(parents=True)
    for i in range(per_class):
      suffix, codec = (".avi", "mjpeg") if i % 2 else (".mp4", "mpeg4")
      write_video(root / name / f"v_{name}_g{i:02d}{suffix}", ramp(10, 24, offset=30 + 120 * c), codec)


def test_ucf_style_folder_into_a_dataset(tmp_path):
  make_folder(tmp_path)
  ds = video_files.load_video_folder(tmp_path, frames=4, size=16, stride=2, clips_per_video=2, val_fraction=0.2,
                                     test_fraction=0.2, seed=0)
  assert ds.class_names == ("Dark", "Light") and ds.num_classes == 2
  assert ds.train.images.shape == (3 * 2 * 2, 4, 16, 16, 3)  # 3 training videos per class, 2 clips each
  assert ds.test.images.shape == (2, 2, 4, 16, 16, 3) and ds.val.images.shape == (2, 2, 4, 16, 16, 3)
  np.testing.assert_array_equal(np.bincount(ds.train.labels), [6, 6])
  # the label follows the folder: the Light class is brighter
  brightness = ds.train.images.mean(axis=(1, 2, 3, 4))
  assert brightness[ds.train.labels == 1].min() > brightness[ds.train.labels == 0].max()
  assert ds.train.images.min() >= 0 and ds.train.images.max() <= 1


def test_explicit_train_test_folders(tmp_path):
  make_folder(tmp_path / "train", per_class=3)
  make_folder(tmp_path / "test", per_class=2)
  ds = video_files.load_video_folder(tmp_path, frames=4, size=8, val_fraction=0.34, grayscale=True)
  assert len(ds.test) == 4 and len(ds.val) == 2 and len(ds.train) == 4
  assert ds.train.images.shape[-1] == 1


def test_an_undecodable_file_is_named(tmp_path):
  make_folder(tmp_path, per_class=3)
  bad = tmp_path / "Dark" / "v_broken.avi"
  bad.write_bytes(b"not a video" * 20)
  with pytest.raises(DataError, match="v_broken.avi: cannot decode the video") as e:
    video_files.load_video_folder(tmp_path, frames=4, size=8, val_fraction=0.0, test_fraction=0.34)
  assert "\n" not in str(e.value)


def test_missing_folder_is_named(tmp_path):
  with pytest.raises(DataError, match="data.dir"):
    video_files.load_video_folder(tmp_path / "nope")
  with pytest.raises(DataError, match="no class subfolders"):
    video_files.load_video_folder(tmp_path)
