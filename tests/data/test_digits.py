"""The embedded digits: a deterministic stratified split, the course's preprocessing, two views."""

import numpy as np
import pytest

from cs231n_jax.data import load_dataset
from cs231n_jax.data.digits import load_digits, raw_digits, split_indices
from cs231n_jax.errors import DataError


def test_split_sizes_disjoint_and_stratified():
  tr, va, te = split_indices()
  assert (len(tr), len(va), len(te)) == (1257, 180, 360)
  assert len(set(tr) | set(va) | set(te)) == 1797
  _, labels = raw_digits()
  for idx, n in ((tr, 1257), (te, 360)):
    counts = np.bincount(labels[idx], minlength=10)
    overall = np.bincount(labels, minlength=10) / len(labels)
    assert np.all(np.abs(counts / n - overall) < 0.01)  # stratified: class shares preserved


def test_split_is_deterministic():
  a, b = load_digits(), load_digits()
  np.testing.assert_array_equal(a.train.images, b.train.images)
  np.testing.assert_array_equal(a.test.labels, b.test.labels)


def test_logistic_regression_reference_on_this_split():
  # The number the README quotes for this split: scikit-learn's logistic regression.
  from sklearn.linear_model import LogisticRegression

  d = load_digits(subtract_mean=False)
  flat = lambda s: s.images.reshape(len(s), -1)
  clf = LogisticRegression(max_iter=5000).fit(flat(d.train), d.train.labels)
  assert clf.score(flat(d.test), d.test.labels) == pytest.approx(348 / 360)


def test_preprocessing_mean_subtraction_and_scale():
  d = load_digits()
  np.testing.assert_allclose(d.train.images.mean(axis=0), 0.0, atol=1e-6)
  raw = load_digits(subtract_mean=False)
  np.testing.assert_allclose(raw.test.images - d.mean_image, d.test.images, atol=1e-6)
  assert raw.train.images.min() == 0.0 and raw.train.images.max() == 1.0
  unscaled = load_digits(scale=False, subtract_mean=False)
  assert unscaled.train.images.max() == 16.0


def test_views():
  small, big = load_digits("8x8x1"), load_digits("32x32x3", subtract_mean=False)
  assert small.image_shape == (8, 8, 1) and big.image_shape == (32, 32, 3)
  np.testing.assert_array_equal(big.train.images[..., 0], big.train.images[..., 2])
  np.testing.assert_array_equal(small.train.labels, big.train.labels)
  # Upsampling keeps the image: block-averaging the 32x32 view gives back nearly the 8x8 digit.
  raw = load_digits("8x8x1", subtract_mean=False).train.images[..., 0]
  pooled = big.train.images[..., 0].reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
  assert np.corrcoef(raw.ravel(), pooled.ravel())[0, 1] > 0.95


def test_course_dict_is_nchw():
  d = load_digits("32x32x3").course_dict()
  assert d["X_train"].shape == (1257, 3, 32, 32) and d["y_val"].shape == (180,)


def test_load_dataset_errors_name_the_field():
  with pytest.raises(DataError, match="data.view"):
    load_dataset({"name": "digits", "view": "28x28x1"})
  with pytest.raises(DataError, match="data.name"):
    load_dataset({"name": "imagenet"})
  with pytest.raises(DataError, match="data.dir"):
    load_dataset({"name": "cifar10"})


def test_class_selection_and_per_class_subsets():
  full = load_digits()
  d = load_dataset({"name": "digits", "classes": (5, 6, 7, 8, 9), "train_per_class": 4, "subset_seed": 1})
  assert d.num_classes == 5 and d.class_names == ("5", "6", "7", "8", "9")
  assert sorted(np.bincount(d.train.labels)) == [4] * 5
  assert len(d.test) == int(np.isin(full.test.labels, [5, 6, 7, 8, 9]).sum())
  # Relabelled in the order given: digit 5 is class 0.
  first_five = full.test.images[full.test.labels == 5][0]
  np.testing.assert_array_equal(d.test.images[d.test.labels == 0][0], first_five)
  again = load_dataset({"name": "digits", "classes": (5, 6, 7, 8, 9), "train_per_class": 4, "subset_seed": 1})
  np.testing.assert_array_equal(d.train.images, again.train.images)
  with pytest.raises(DataError, match=r"data.classes: expected distinct labels in \[0, 10\)"):
    load_dataset({"name": "digits", "classes": (3, 3)})
  with pytest.raises(DataError, match="data.train_per_class: class 0 has only"):
    load_dataset({"name": "digits", "train_per_class": 1000})


def test_train_on_val_fits_on_both_splits_and_keeps_val_and_test():
  full = load_digits()
  d = load_dataset({"name": "digits", "train_on_val": True})
  np.testing.assert_array_equal(d.train.images, np.concatenate([full.train.images, full.val.images]))
  np.testing.assert_array_equal(d.train.labels, np.concatenate([full.train.labels, full.val.labels]))
  np.testing.assert_array_equal(d.val.images, full.val.images)
  np.testing.assert_array_equal(d.test.images, full.test.images)
  # With a class selection, the selection applies to the merged split too.
  sub = load_dataset({"name": "digits", "classes": (0, 1), "train_on_val": True})
  assert len(sub.train) == int(np.isin(full.train.labels, [0, 1]).sum() + np.isin(full.val.labels, [0, 1]).sum())
