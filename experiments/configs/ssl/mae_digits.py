"""A masked autoencoder on the ViT (He et al. 2022; beyond the notes) on the 8x8 digits, then the probe of its frozen
encoder (mean-pooled tokens, nothing masked) with the probe table's protocol.

The ViT is vit_tiny's encoder (2x2 patches -> 16 tokens, 64 wide, 4 layers of 4 heads, GELU, pre-norm); 75% of the
patches hidden per example (the paper's ratio); the decoder 1 block of 32 (the paper: 8 blocks of 512); the loss on the
hidden patches only, raw pixels (norm_pix_loss False: a 2x2 patch of a digit is often constant).
Command: cs231n-jax train --config experiments/configs/ssl/mae_digits.py --workdir workdirs/ssl_mae_digits
Expected: seed 0, 600 steps (CPU-2 shared, load ~22, 371 s in fit): held-out masked-patch MSE 0.0712 vs 0.1419 for
  the training mean pixel; probe of the mean-pooled encoder linear@1/5/10/all 0.422 / 0.658 / 0.647 / 0.844, k-NN
  0.361 / 0.467 / 0.564 / 0.700 -- below raw pixels (0.829 at 5 labels in the probe table).
"""

from cs231n_jax.tasks.ssl_pixels import base_config


def get_config():
  c = base_config()
  c.method = "mae"
  c.train.update({"batch_size": 128, "num_steps": 600, "log_every": 50})
  c.optimizer.learning_rate = 1e-3  # Adam (the paper: AdamW 1.5e-4 x B / 256, cosine, 40 warm-up epochs)
  return c
