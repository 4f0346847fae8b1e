"""CNN feature map + LSTM with soft attention (Show, Attend and Tell) captioner on the synthetic captioned scenes.

3000 training scenes (two captions each), val on new scenes of seen object pairs, test on scenes of
object pairs never seen together in training; greedy and beam-3 decoding, exact-match rate and BLEU-1..4,
and where the attention looks when the captioner writes a shape noun (captioning.evaluation.attention_on_objects).
Variants: ``attention_lstm.py:plain`` (the default: ``attention_lstm.py`` is the same config; Xu et al.'s
attention, queried by h_{t-1}; the LSTM starts with b_f = 1 and (c0, h0) from the mean annotation vector),
``attention_lstm.py:doubly_stochastic``, which adds Xu et al.'s doubly stochastic attention penalty
λ Σ_i (1 - Σ_t p_ti)² with the paper's λ = 1, and ``attention_lstm.py:word_query``, whose attention query
also reads the word just written (W_h h_{t-1} + W_w E y_{t-1}; model.attention_query = "state_word").

Command: cs231n-jax train --config experiments/configs/captioning/attention_lstm.py:plain
  --workdir workdirs/captioning_attention_lstm
Expected: greedy exact match / BLEU-4: val 0.960 / 0.985, test (unseen pairs) 0.844 / 0.941; beam 3 val 0.964 / 0.987,
  test 0.860 / 0.948; attention peak (cell centre) inside the named shape's box 0.648 val / 0.714 test (chance 0.078),
  peak cell overlapping the box 0.788 / 0.836 (chance 0.160); CPU-2, engine, 24 min 48 s under load;
  docs/results.md, "Captioning the synthetic scenes".

Command: cs231n-jax train --config experiments/configs/captioning/attention_lstm.py:doubly_stochastic
  --workdir workdirs/captioning_attention_lstm_ds
Expected: greedy exact match val 0.846, test 0.564 (beam 3: 0.848 / 0.568); attention mass on the named shape 0.132 / 0.148
  (chance 0.112): with T ~ 9 words and L = 64 cells the penalty spreads the attention; CPU-2, engine, 15 min 39 s under load;
  docs/results.md, "Doubly stochastic attention".

Command: cs231n-jax train --config experiments/configs/captioning/attention_lstm.py:word_query
  --workdir workdirs/captioning_attention_lstm_word_query
Expected: greedy exact match / BLEU-4: val 0.988 / 0.995 (the LSTM's 0.992: within 2 points), test 0.928 / 0.976; beam 3
  val 0.990 / 0.996, test 0.934 / 0.978; peak cell overlapping the named shape's box 0.872 val / 0.836 test (chance 0.160),
  its centre inside the box 0.478 / 0.450, peak on the other object 0.029 / 0.035; CPU-2, engine, 4 min 46 s under load
  (--config.seed=1: val 0.990, test 0.962); docs/results.md, "Captioning the synthetic scenes".
"""

from cs231n_jax.tasks.captioning import base_config

VARIANTS = ("plain", "doubly_stochastic", "word_query")


def get_config(variant="plain"):
  c = base_config("attention_lstm")  # Adam 2e-3 (cosine), clip 5, 20 epochs of 64 captions; best by val loss
  if variant == "doubly_stochastic":
    c.model.doubly_stochastic = 1.0  # λ in λ Σ_i (1 - Σ_t p_ti)², as in Show, Attend and Tell
  elif variant == "word_query":
    # The attention's query also reads the word just written (W_h h_{t-1} + W_w E y_{t-1}). Every
    # val error of :plain is a flipped relation in a scene of two objects of one colour: after
    # "a red" both objects fit, h_{t-1} cannot know which shape the next word picked, and the
    # attention that writes the relation cannot look at the object just named.
    c.model.attention_query = "state_word"
  return c
