"""Character-level causal transformer (3 pre-norm layers of width 128, 4 heads, MLP 512; attention window
256 characters: 128 carried + chunks of 128) on pydoc_data.topics, through the char-LM task.

Same streams, split, evaluation and n-gram baselines as char_lstm.py (batch of 16 parallel streams,
parameters best on val, test bits/char reported once), with the interpolated Kneser-Ney n-grams beside
the add-k ones. Adam 2e-3, 30 warm-up steps then cosine decay, clipping by norm 1, dropout 0.1.
Variants: ``base`` (the file alone: 240 steps), ``long`` (3,000 steps, toward convergence; the cosine decay follows) and
``converge`` (9,000 steps: does the 3,000-step run's val, flattening as its rate reached zero, fall further with 3x the steps?).
Command: cs231n-jax train --config experiments/configs/text/char_transformer.py --workdir workdirs/char_transformer
Expected: test 3.431 bits/char (val 4.453 -> 3.972 -> 3.882 at steps 80 / 160 / 240, still falling; 0.49M characters, 1.25 passes),
  far above the LSTM's 1.826 and the Kneser-Ney 7-gram's 1.766: undertrained, not converged; CPU-2 under load (~20), 14 min 35 s;
  0.77 CPU-seconds per step (a 40-step timing run, load ~24), ~10x the 256-unit LSTM's 0.08, so the CPU time toward
  1.45 bits/char went to the LSTM (char_lstm.py:large); docs/results.md.

Command: cs231n-jax train --config experiments/configs/text/char_transformer.py:base --workdir workdirs/char_transformer
Expected: as the file alone (above): test 3.431 bits/char after 240 steps; CPU-2.

Command: cs231n-jax train --config experiments/configs/text/char_transformer.py:long --workdir workdirs/char_transformer_long
Expected: test 1.912 bits/char (val 3.639 / 2.904 / 2.326 / 2.117 / 2.028 / 2.012 at steps 500 ... 3000, best at 3000, flattening;
  training slice 1.714): above the Kneser-Ney 7-gram's 1.766 and the LSTMs; 1,461 CPU-seconds (0.49 per step), 54 min 16 s wall
  on CPU-2 under load (nice 15, pinned to one core); docs/results.md ("Longer schedules for :regularised").

Command: cs231n-jax train --config experiments/configs/text/char_transformer.py:converge --workdir workdirs/char_transformer_converge
Expected: test 1.666 bits/char (val 2.873 / 2.082 / 1.919 / 1.831 / 1.801 / 1.783 / 1.761 / 1.756 / 1.755 at steps 1000 ... 9000,
  best at 9000: converged, -0.001 over the last 1,000 steps; training slice 1.156): below the Kneser-Ney 7-gram's 1.766, above
  the LSTMs' 1.507; dynamic evaluation test 1.438 (val 1.599; η 0.1, λ 0.01 chosen on val, the grid's smallest η; η 0.8
  diverges); 5,353 CPU-seconds (0.59 per step), 87 min 53 s wall on CPU-2 beside another run (load ~2, nice 5), the report
  with the dynamic grid 1 min 53 s; docs/results.md ("Weight averaging and dynamic evaluation").
"""

from cs231n_jax.tasks import char_lm

VARIANTS = ("base", "long", "converge")


def get_config(variant: str = "base"):
  c = char_lm.base_config()
  c.data.update(name="pydoc", val_fraction=0.05, test_fraction=0.10)
  c.model = char_lm.ml_collections.ConfigDict({
      "name": "char_transformer", "embed_dim": 128, "num_layers": 3, "num_heads": 4, "mlp_dim": 512,
      "memory": 128,          # characters carried from the previous chunk: window = memory + seq_length
      "dropout_rate": 0.1})
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.name = "cosine"
  c.optimizer.schedule.warmup_steps = 30
  c.train.update(
      batch_size=16,        # parallel streams
      seq_length=128,       # new characters per chunk (each predicted from 128-255 characters before it)
      chunks_per_step=1,
      num_steps=240,        # what ~15 min of a shared 2-core CPU allows (see Expected)
      eval_every=80,
      log_every=10,
      checkpoint_every=80,
      keep_checkpoints=2,
      clip="norm",
      clip_threshold=1.0,
      eval_chunk=128,       # evaluation windows of the training length: the positions training saw
  )
  c.sample.update(length=300, prime="The ", temperatures=(0.5, 1.0, 1.5))
  c.ngram_orders = (1, 2, 3, 4, 5)
  c.kneser_ney_orders = (2, 3, 4, 5, 6, 7, 8)
  c.cells.enabled = False  # the interpretable-cells figure reads LSTM cell states
  if variant == "long":  # toward convergence: 12.5x the steps, the cosine decay stretched to them
    c.train.update(num_steps=3000, eval_every=500, checkpoint_every=500)
  if variant == "converge":  # 3x :long's steps, the cosine decay stretched to them
    c.train.update(num_steps=9000, eval_every=1000, checkpoint_every=1000)
    c.dynamic_eval.update(learning_rates=(0.1, 0.2, 0.4, 0.8), decays=(0.0, 0.001, 0.01))  # as char_lstm.py:averaged
  return c
