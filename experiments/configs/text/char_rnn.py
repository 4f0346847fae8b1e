"""Character vanilla-RNN language model (tanh, 1 layer, 256 units, 64-d embedding) on pydoc_data.topics.

The LSTM config with the cell swapped.

Same data, steps, optimizer and clipping as char_lstm.py, so the two are directly comparable.
Command: cs231n-jax train --config experiments/configs/text/char_rnn.py --workdir workdirs/char_rnn
Expected: test 1.906 bits/char (val 1.968), re-measured on the engine: between the 4-gram's 2.175 and the LSTM's 1.856; CPU-2 (shared,
  load ~11), 3 min 38 s; docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.config import configs_root, load_config


def get_config():
  c = load_config(configs_root() / "text" / "char_lstm.py")
  c.model.cell = "rnn"
  c.cells.enabled = False  # the interpretable-cells figure reads LSTM cell states
  return c
