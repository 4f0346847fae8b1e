"""The visualization experiments' digits CNN, trained normally (the adversarial-training baseline).

``vis_digits_cnn`` (3x3 conv 32 - ReLU - 2x2 max pool - 3x3 conv 64 - ReLU - global average pool - dense 10;
19,754 parameters) on the 8x8 digits as pixels in [0, 1] (no mean subtraction: attacks and class
visualization work in the pixel box), Adam 3e-3, batch 64, 30 epochs. The runner is the robust task with
``adversarial.epsilon = 0`` (no attack in training), so its results also carry ``robust_accuracy`` under
L-inf PGD at ``adversarial.eval_epsilon`` (20 steps).

Command: cs231n-jax train --config experiments/configs/vis/digits_cnn.py --workdir workdirs/vis_digits_cnn
Expected: test accuracy 0.9444, robust accuracy 0.3556 under 20-step L-inf PGD at 0.1; 505 s on CPU-2 at load ~45
  (measured, docs/results.md)
"""

from cs231n_jax.tasks.robust_classification import base_config


def get_config():
  c = base_config()
  c.model.name = "vis_digits_cnn"
  c.model.features = (32, 64)
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 3e-3
  c.train.batch_size = 64
  c.train.num_epochs = 30
  c.adversarial.epsilon = 0.0  # trained on clean digits
  c.adversarial.eval_epsilon = 0.1
  c.adversarial.eval_steps = 20
  c.adversarial.step_size = 0.02
  return c
