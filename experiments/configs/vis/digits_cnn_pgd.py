"""Adversarial training (Madry et al.): the visualization digits CNN trained on L-inf PGD examples.

As ``digits_cnn.py`` (same model, data and optimizer; 10 epochs instead of 30, as each step also runs a 7-step
attack), but every training batch is replaced by
untargeted L-inf PGD examples at epsilon 0.1 (7 steps of 0.02 from a random start in the ball, against the
current parameters). Evaluation reports clean accuracy and ``robust_accuracy`` under 20-step PGD at 0.1.

Command: cs231n-jax train --config experiments/configs/vis/digits_cnn_pgd.py --workdir workdirs/vis_digits_cnn_pgd
Expected: test accuracy 0.9056, robust accuracy 0.5722 under 20-step L-inf PGD at 0.1 (the clean run: 0.3556); 298 s on
  CPU-2 at load ~45; re-run 2026-12-07: the same two numbers (deterministic), 171 s at load ~25 (docs/results.md)
"""

from cs231n_jax.tasks.robust_classification import base_config


def get_config():
  c = base_config()
  c.model.name = "vis_digits_cnn"
  c.model.features = (32, 64)
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 3e-3
  c.train.batch_size = 64
  c.train.num_epochs = 10
  c.adversarial.norm = "linf"
  c.adversarial.epsilon = 0.1
  c.adversarial.step_size = 0.02
  c.adversarial.steps = 7
  c.adversarial.adv_fraction = 1.0
  c.adversarial.eval_epsilon = 0.1
  c.adversarial.eval_steps = 20
  return c
