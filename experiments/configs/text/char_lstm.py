"""Character LSTM language model (1 layer, 256 units, 64-d embedding) on pydoc_data.topics, truncated BPTT.

Trains 3000 steps of 32 streams x 64 characters (Adam 2e-3, cosine decay, clip by norm 5), keeps
the parameters best on val, and reports held-out test bits per character next to the unigram ...
5-gram baselines computed on the same split.
Command: cs231n-jax train --config experiments/configs/text/char_lstm.py --workdir workdirs/char_lstm
Expected: test 1.856 bits/char (val 1.948, best at step 3000) vs the best n-gram's 2.175 (4-gram); CPU-2, 7 min 40 s; docs/results.md
  ("Lectures 10-11").
"""

from cs231n_jax.tasks import char_lm


def get_config():
  c = char_lm.base_config()
  c.data.update(name="pydoc", val_fraction=0.05, test_fraction=0.10)
  c.model.update(cell="lstm", hidden_size=256, num_layers=1, embed_dim=64, dropout_rate=0.0)
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.name = "cosine"
  c.train.update(
      batch_size=32,        # parallel streams
      seq_length=64,        # characters per truncated-BPTT chunk
      chunks_per_step=1,    # one optimizer update per engine step: num_steps counts updates
      num_steps=3000,
      eval_every=500,
      log_every=100,
      checkpoint_every=500,
      keep_checkpoints=2,
      clip="norm",
      clip_threshold=5.0,
      eval_chunk=512,
  )
  c.sample.update(length=300, prime="The ", temperatures=(0.5, 1.0))
  c.ngram_orders = (1, 2, 3, 4, 5)
  c.kneser_ney_orders = (2, 3, 4, 5, 6, 7, 8)  # interpolated Kneser-Ney, the honest classical baseline (best: 7-gram, test 1.766)
  c.cells.update(enabled=True, analysis_chars=5000, figure_chars=600)
  return c
