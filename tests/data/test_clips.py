"""The clip generator: determinism, ground-truth flow, and the properties each experiment relies on."""

import numpy as np
import pytest
from scipy import stats

from cs231n_jax.data import clips as clip_data
from cs231n_jax.errors import ConfigError


def test_deterministic_and_prefix_stable():
  a = clip_data.make_clips("motion", 6, seed=3, frames=8, size=16)
  b = clip_data.make_clips("motion", 10, seed=3, frames=8, size=16)
  c = clip_data.make_clips("motion", 6, seed=4, frames=8, size=16)
  np.testing.assert_array_equal(a.clips, b.clips[:6])
  np.testing.assert_array_equal(a.labels, b.labels[:6])
  assert not np.array_equal(a.clips, c.clips)
  assert a.clips.shape == (6, 8, 16, 16, 1) and a.clips.dtype == np.float32


@pytest.mark.parametrize("kind", ["motion", "appearance", "digits", "two_digits"])
def test_ground_truth_flow_moves_every_pixel_onto_the_next_frame(kind):
  """Noise off: the content at (y, x) of frame t is at (y + dy, x + dx) of frame t + 1 wherever the
  flow is defined and nothing is drawn over that place at t + 1 (checked for the top sprite)."""
  size = 64 if kind == "two_digits" else 16
  cs = clip_data.make_clips(kind, 20, seed=1, frames=8, size=size, noise=0.0, with_flow=True)
  s = size // (32 if kind == "two_digits" else 16) * 8
  checked = 0

  def overlap(p):  # do two shown sprites' boxes overlap in this frame?
    shown = [q for q in p if q[0] >= 0]
    return any(abs(a[0] - b[0]) < s and abs(a[1] - b[1]) < s for i, a in enumerate(shown) for b in shown[i + 1:])

  for v, f, pos in zip(cs.clips[..., 0], cs.flow, cs.positions):
    for t in range(7):
      if overlap(pos[t]) or overlap(pos[t + 1]):
        continue
      ys, xs = np.nonzero(np.abs(f[t]).sum(-1))
      dy, dx = f[t][ys, xs].T.astype(int)
      y2, x2 = (ys + dy) % size, (xs + dx) % size
      np.testing.assert_allclose(v[t + 1][y2, x2], v[t][ys, xs], atol=1e-6)
      checked += len(ys)
    assert np.all(f[-1] == 0)
  assert checked > 500


def test_motion_flow_sign_is_the_label():
  cs = clip_data.make_clips("motion", 40, seed=0, frames=8, size=16, with_flow=True)
  dx = cs.flow[..., 1].sum(axis=(1, 2, 3))
  np.testing.assert_array_equal(dx > 0, cs.labels == 1)
  assert np.all(cs.flow[..., 0] == 0)


def test_motion_every_single_frame_has_the_same_distribution_under_both_labels():
  """E1's construction: the sprite column is uniform in every frame for both labels (chi-square), and
  a logistic regression on single frames' pixels is within 3 sigma of chance on 1,000 held-out clips,
  while the same regression on the difference of two frames separates the classes."""
  from sklearn.linear_model import LogisticRegression

  n, size, frames = 2000, 16, 8
  cs = clip_data.make_clips("motion", n, seed=0, frames=frames, size=size)
  cols = cs.positions[:, :, 0, 1]
  for t in range(frames):
    table = np.stack([np.bincount(cols[cs.labels == k, t], minlength=size) for k in (0, 1)])
    assert stats.chi2_contingency(table).pvalue > 1e-3, t
  x = cs.clips[..., 0]
  train, test = slice(0, 1000), slice(1000, 2000)
  for t in (0, 3, 7):
    frame = x[:, t].reshape(n, -1)
    acc = LogisticRegression(max_iter=300).fit(frame[train], cs.labels[train]).score(frame[test], cs.labels[test])
    assert abs(acc - 0.5) <= 3 * np.sqrt(0.25 / 1000), (t, acc)
  # the property is not vacuous: a (hand-made) motion feature separates them
  def match(direction):  # how well frame t shifted by 1 or 2 columns in ``direction`` predicts frame t + 1
    return np.max([-np.abs(np.roll(x[:, :-1], direction * v, axis=-1) - x[:, 1:]).sum(axis=(1, 2, 3)) for v in (1, 2)], axis=0)

  right_score, left_score = match(1), match(-1)
  assert np.mean((right_score > left_score) == (cs.labels == 1)) > 0.95


def test_appearance_class_is_the_shape_and_motion_is_shared():
  cs = clip_data.make_clips("appearance", 400, seed=0, frames=8, size=16, noise=0.0, with_flow=True)
  area = (cs.clips[:, 0, ..., 0] > 0).sum(axis=(1, 2))
  for k in range(4):
    assert len(np.unique(area[cs.labels == k])) == 1  # one shape per class ...
  assert len(np.unique(area)) == 4  # ... different shapes
  speed = np.abs(np.diff(cs.positions[:, :, 0], axis=1)).sum(axis=(1, 2))
  groups = [speed[cs.labels == k] for k in range(4)]
  assert stats.kruskal(*groups).pvalue > 1e-3  # motion does not depend on the class


def test_order_events_are_brief_far_apart_and_away_from_the_ends():
  frames, gap, margin, e = 32, 8, 6, 2
  cs = clip_data.make_clips("order", 300, seed=0, frames=frames, size=16, gap=gap, margin=margin, event_frames=e)
  shown = cs.positions[..., 0] >= 0  # (N, T, 2): sprite 0 is the first event's
  starts = shown.argmax(axis=1)
  assert np.all(shown.sum(axis=1) == e)
  assert np.all(starts[:, 1] - (starts[:, 0] + e) >= gap)
  assert np.all(starts >= margin) and np.all(starts + e <= frames - margin)
  # which shape came first is the label; the first event's time has one distribution for both labels
  assert stats.ks_2samp(starts[cs.labels == 0, 0], starts[cs.labels == 1, 0]).pvalue > 1e-3
  sq = cs.clips[cs.labels == 0]
  assert sq.shape[1] == frames


def test_digits_come_from_disjoint_image_splits():
  tr = clip_data.digit_pool("train")[0].reshape(-1, 64)
  te = clip_data.digit_pool("test")[0].reshape(-1, 64)
  assert not (set(map(bytes, tr)) & set(map(bytes, te)))
  cs = clip_data.make_clips("digits", 50, seed=0, frames=8, size=32, split="test")
  assert set(cs.labels) <= set(range(10)) and len(set(cs.labels)) > 5
  mm = clip_data.make_clips("two_digits", 3, seed=0, frames=10, size=64)
  assert mm.clips.shape == (3, 10, 64, 64, 1) and mm.digits.shape == (3, 2)


def test_videos_are_cut_into_consecutive_clips():
  whole = clip_data.make_clips("motion", 4, seed=2, frames=24, size=16)
  cut = clip_data.make_clips("motion", 4, seed=2, frames=8, size=16, clips_per_video=3)
  assert cut.clips.shape == (4, 3, 8, 16, 16, 1)
  np.testing.assert_array_equal(cut.clips.reshape(whole.clips.shape), whole.clips)


@pytest.mark.parametrize("kwargs,field", [({"frames": 7}, "data.frames"), ({"frames": 49}, "data.frames"),
                                          ({"size": 15}, "data.size"), ({"size": 65}, "data.size"),
                                          ({"kind": "spin"}, "data.kind"), ({"clips_per_video": 0}, "data.clips_per_video")])
def test_bad_arguments_are_named(kwargs, field):
  args = {"kind": "motion", "num": 2, "frames": 8, "size": 16, **kwargs}
  with pytest.raises(ConfigError, match=field):
    clip_data.make_clips(**args)


def test_clip_dataset_with_flow_channels():
  data = {"kind": "motion", "frames": 8, "size": 16, "num_train": 6, "num_val": 3, "num_test": 4, "clips_per_video": 2,
          "flow": "ground_truth"}
  ds = clip_data.clip_dataset(data)
  assert ds.train.images.shape == (6, 8, 16, 16, 3)
  assert ds.test.images.shape == (4, 2, 8, 16, 16, 3)
  assert ds.num_classes == 2 and ds.class_names == ("left", "right")
