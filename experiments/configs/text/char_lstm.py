"""Character LSTM language model on pydoc_data.topics, truncated BPTT through the char-LM task.

Variants (``char_lstm.py:<variant>``; the file alone is ``base``):
- ``base``: 1 layer of 256 units, 64-d embedding, no dropout; 3000 steps of 32 streams x 64 characters.
- ``large``: 1 layer of 512 units, dropout 0.3 before the output layer, otherwise the same; 2000 steps
  (what ~1 hour of a shared 2-core CPU allowed).
- ``regularised``: ``large`` (512 units, 2000 steps) with stronger regularisation against its 0.48-bit generalisation
  gap: variational dropout 0.25 on the recurrent path (one mask per stream and chunk, the same at every step), dropout
  0.1 on the embedded input, dropout 0.4 before the output layer, AdamW-style decoupled weight decay 0.1 on the kernels.
- ``regularised_long``: ``regularised`` trained 7.5x as long (15,000 steps, the cosine decay stretched to them):
  at 2000 steps it was still under-fitted, its val falling when the rate reached zero.
- ``averaged``: ``regularised_long`` evaluated (val, best state, test) with the Polyak average of its parameters
  (decay 0.999, kept by the optimizer), and with dynamic evaluation (Krause et al. 2018: SGD on each 64-character
  segment after scoring it, decay toward the trained parameters; η and λ chosen on val) reported beside the static test.
Both: Adam 2e-3, cosine decay, clip by norm 5; the parameters best on val are kept and held-out test bits
per character are reported next to the add-k and interpolated Kneser-Ney n-grams of the same split.
Command: cs231n-jax train --config experiments/configs/text/char_lstm.py --workdir workdirs/char_lstm
Expected: (the file alone = base; engine, 2026-12-07) test 1.826 bits/char (val 2.444 / 2.104 / 1.984 / 1.944 / 1.915 /
  1.911 at steps 500 ... 3000, best at 3000; training slice 1.551), above the Kneser-Ney 7-gram's 1.766; 251 CPU-seconds,
  12 min 15 s wall on CPU-2 under load (~24); docs/results.md ("Character language models").

Command: cs231n-jax train --config experiments/configs/text/char_lstm.py:base --workdir workdirs/char_lstm
Expected: as the file alone (above): test 1.826 bits/char; CPU-2.

Command: cs231n-jax train --config experiments/configs/text/char_lstm.py:large --workdir workdirs/char_lstm_large
Expected: test 1.723 bits/char (val 2.239 / 1.942 / 1.861 / 1.816 / 1.806 at steps 400 ... 2000, best at 2000; training
  slice 1.330): below the Kneser-Ney 7-gram's 1.766, above the 1.45 goal; 692 CPU-seconds, 50 min 45 s wall on CPU-2 under
  load (~23, nice 10); docs/results.md.

Command: cs231n-jax train --config experiments/configs/text/char_lstm.py:regularised --workdir workdirs/char_lstm_regularised
Expected: test 1.762 bits/char (val 2.345 / 1.999 / 1.891 / 1.850 / 1.843 at steps 400 ... 2000, best at 2000; training
  slice 1.557): the gap to the training slice falls from :large's 0.48 to 0.29 bits but val / test are 0.037 / 0.039 worse
  than :large at 2000 steps (under-fitted); 577 CPU-seconds, 19 min 38 s wall on CPU-2 under load (~7, nice 15).

Command: cs231n-jax train --config experiments/configs/text/char_lstm.py:regularised_long --workdir workdirs/char_lstm_regularised_15000
Expected: test 1.507 bits/char, the best here, 0.057 above the 1.45 goal (val 1.792 / 1.692 / 1.640 / 1.622 / 1.605 / 1.594 /
  1.589 / 1.583 / 1.5806 / 1.5807 at steps 1500 ... 15000, best at 13500; training slice 0.944); 4,099 CPU-seconds, 51 min 41 s
  wall on CPU-2 under load (~3-5, nice 5); docs/results.md ("Longer schedules for :regularised").

Command: cs231n-jax train --config experiments/configs/text/char_lstm.py:averaged --workdir workdirs/char_lstm_averaged
Expected: static test 1.508 bits/char (val of the average 2.216 / 1.717 / 1.646 / 1.616 / 1.600 / 1.593 / 1.587 / 1.582 / 1.5815 /
  1.5810 at steps 1500 ... 15000, best at 15000; training slice 0.945): the average gains nothing over :regularised_long (1.507) at
  the end of a cosine schedule. Dynamic evaluation: test 1.298 bits/char (val 1.426; η 0.8, λ 0.01 chosen on val from the
  12-pair grid, its corner), below the 1.45 goal under that protocol. ~4,400 CPU-seconds, 73 min wall on CPU-2 under load (~2,
  nice 5); the report with the dynamic grid 4 min 27 s; docs/results.md ("Weight averaging and dynamic evaluation").
"""

from cs231n_jax.tasks import char_lm

VARIANTS = ("base", "large", "regularised", "regularised_long", "averaged")


def get_config(variant: str = "base"):
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
  if variant in ("large", "regularised", "regularised_long", "averaged"):
    c.model.update(hidden_size=512, dropout_rate=0.3)  # 3.5x the CPU time per step of 256 units (0.29 vs 0.08 CPU-s)
    c.train.update(num_steps=2000, eval_every=400, checkpoint_every=400)
    c.sample.temperatures = (0.5, 0.8, 1.0)
  if variant in ("regularised", "regularised_long", "averaged"):
    c.model.update(dropout_rate=0.4, embed_dropout_rate=0.1, recurrent_dropout_rate=0.25)
    c.optimizer.weight_decay = 0.1  # decoupled (x -= lr_t wd x), kernels only (Wx, Wh, embedding, head)
  if variant in ("regularised_long", "averaged"):
    c.train.update(num_steps=15000, eval_every=1500, checkpoint_every=1500)
  if variant == "averaged":
    c.optimizer.ema_decay = 0.999  # evaluate the Polyak average of the last ~1,000 updates
    # η, λ chosen on val (2026-12-07: 0.8, 0.01, the grid's corner; a wider grid may go lower, val was not searched further)
    c.dynamic_eval.update(learning_rates=(0.1, 0.2, 0.4, 0.8), decays=(0.0, 0.001, 0.01))
  return c
