"""Reference numbers a trained network is judged against (scikit-learn, on the project's own splits).

``logistic_regression_digits()`` is the baseline the demo prints beside its convnet: scikit-learn's
``LogisticRegression`` (default L2, C=1, lbfgs, ``max_iter=5000``) on the embedded digits' 64
pixels scaled to [0, 1] (no mean subtraction), fitted on the demo's 1,257 training images and scored
on its 360 test images (the split of :mod:`cs231n_jax.data.digits`): 0.9667 (348 / 360). It is the
setup of ``tests/data/test_digits.py::test_logistic_regression_reference_on_this_split`` and of the
reference row in docs/results.md. Deterministic, about a second on a CPU.
"""

from __future__ import annotations

from cs231n_jax.data.digits import load_digits

LOGISTIC_MAX_ITER = 5000


def logistic_regression_digits() -> dict[str, float]:
  """Fit the logistic-regression reference on the digits' train split; its accuracy on val and test."""
  from sklearn.linear_model import LogisticRegression

  d = load_digits("8x8x1", scale=True, subtract_mean=False)

  def flat(split):
    return split.images.reshape(len(split), -1)

  clf = LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(flat(d.train), d.train.labels)
  return {"val_accuracy": float(clf.score(flat(d.val), d.val.labels)),
          "test_accuracy": float(clf.score(flat(d.test), d.test.labels))}
