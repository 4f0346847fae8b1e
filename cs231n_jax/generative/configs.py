"""The one setting the generative experiment configs share: how long the digits classifier that scores
samples trains (``scorer_epochs``; :func:`cs231n_jax.tasks.likelihood.scorer_for`)."""

from __future__ import annotations

SCORER_EPOCHS = 60  # epochs of the digits classifier that scores samples
