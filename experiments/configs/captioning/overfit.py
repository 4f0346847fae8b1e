"""The course's overfitting sanity check for every captioner: 50 training captions, the course's epochs and learning rates.

Features are the scenes' pooled, standardised pixels (the course's fixed-feature set-up); the
course's sizes (word vectors 256, hidden 512; transformer 2 layers of 2 heads, dropout 0 here).
Command: cs231n-jax train --config experiments/configs/captioning/overfit.py --workdir workdirs/captioning_overfit
Expected: final losses 0.0159 (RNN, course < 0.1), 0.0068 (LSTM, < 0.5), 0.0036 (attention LSTM, < 0.5), 0.0110 (transformer, < 0.03);
  CPU-2, 2 min 26 s; docs/results.md.
"""

import ml_collections

from cs231n_jax.tasks.captioning import base_config


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.tasks.captioning:run_overfit_checks"  # one engine run per model (its notebook's rate, decay and epochs)
  c.seed = 231
  c.data = base_config().data
  c.data.num_train, c.data.num_val, c.data.num_test = 100, 10, 10
  c.features = "pooled"  # images -> pooled standardised pixel features (no CNN)
  c.models = ("rnn", "lstm", "attention_lstm", "transformer")
  c.num_examples = 50
  c.num_epochs = 0  # 0: each model's course setting (50 epochs; 100 for the transformer)
  c.batch_size = 25
  c.model = ml_collections.ConfigDict({"wordvec_dim": 256, "hidden_dim": 512, "attention_dim": 256,
                                       "num_heads": 2, "num_layers": 2, "mlp_dim": 512, "dropout_rate": 0.0})
  return c
