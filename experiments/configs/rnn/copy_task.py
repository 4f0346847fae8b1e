"""The copy / long-lag task: recall the first of 8 symbols after 48 distractors, vanilla RNN vs LSTM vs GRU.

Same hidden size (64), Adam 3e-3, clipping by norm 1, 2000 steps of 64 sequences for every cell (LSTM
forget-gate bias 3, GRU update-gate bias 3: both start remembering);
held-out accuracy (chance 0.125) and the gradient-flow profile of each trained network.
Command: cs231n-jax train --config experiments/configs/rnn/copy_task.py --workdir workdirs/copy_task
Expected: held-out accuracy after 2000 steps LSTM 1.000, GRU 1.000, vanilla RNN 0.132 (chance 0.125); CPU-2, 2 min 15 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.text.copy_task import default_config


def get_config():
  c = default_config()
  c.cells = ("rnn", "lstm", "gru")
  c.length = 50
  c.num_steps = 2000
  c.lstm_forget_bias = 3.0
  c.gru_update_bias = 3.0
  return c
