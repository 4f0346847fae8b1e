"""min-char-rnn (the 112-line gist of lecture 10), ported from its equations, on pydoc_data.topics.

One stream, H=100, T=25, Adagrad 0.1, clip 5.

240,000 iterations of 25 characters (6M characters, about 15 passes over the training text), 100
iterations per engine step (one lax.scan; the gist printed its loss every 100).
Command: cs231n-jax train --config experiments/configs/text/min_char_rnn.py --workdir workdirs/min_char_rnn
Expected: test 2.384 bits/char (val 2.429, best at iteration 200k of 240k) vs the 2-gram's 3.344 and the curriculum's target < 3.0;
  re-measured on the engine, CPU-2 under load (~18), 6 min 17 s; docs/results.md (the removed loop: test 2.391).
"""

from cs231n_jax.tasks import char_lm


def get_config():
  c = char_lm.min_char_rnn_config()
  c.data.update(name="pydoc", val_fraction=0.05, test_fraction=0.10)
  c.model.hidden_size = 100
  c.train.update(
      seq_length=25,
      learning_rate=0.1,      # Adagrad, written by hand as in the gist
      clip=5.0,               # every gradient entry to [-5, 5]
      chunks_per_step=100,    # gist iterations per engine step
      num_steps=2400,         # x 100 = 240,000 iterations
      eval_every=200,         # every 20,000 iterations
      log_every=1,
      checkpoint_every=200,
      keep_checkpoints=2,
      eval_chunk=512,
  )
  c.sample.update(length=200, temperatures=(1.0,))
  c.ngram_orders = (1, 2, 3, 4, 5)
  return c
