"""The 2016 unsupervised lecture's tied-weight linear autoencoder (x̂ = x W Wᵀ on centred digits, H = 4) against PCA,
trained by the engine (Adam, cosine decay, on the squared reconstruction error); afterwards the principal angles between span(W)
and the top-4 principal subspace of the training set, and the reconstruction error against PCA's optimum.

Command: cs231n-jax train --config experiments/configs/lectures/linear_autoencoder_pca.py --workdir workdirs/linear_autoencoder_pca

Expected: measured on CPU-2 under load (9 s), seed 0: principal angles to the top-4 PCA subspace 0.12, 0.18, 0.20,
0.36 degrees; training reconstruction error 2.39088 against PCA's optimum 2.39085 (the variance outside the top 4);
max |WᵀW − I| = 8e-5 (W's columns come out orthonormal). Eigenvalues 4 and 5 of the covariance: 0.377, 0.268.
"""

from cs231n_jax.tasks.unsupervised import LINEAR_AE_RUNNER, base_config


def get_config():
  c = base_config()
  c.runner = LINEAR_AE_RUNNER
  c.model.num_hidden = 4
  c.optimizer.learning_rate = 1e-2
  c.optimizer.schedule.name = "cosine"
  c.train.num_steps = 2000
  # One evaluation, at the end: the comparison is with the training set's PCA, and picking an earlier state by
  # validation loss would pick a subspace fit to the validation set (measured: 3.2 degrees at step 1000).
  c.train.eval_every = 2000
  c.train.checkpoint_every = 2000
  return c
