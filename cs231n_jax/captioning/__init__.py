"""Image captioning (lecture 10, course notes chapter 11): synthetic captioned scenes and the
course's COCO-features format, the caption vocabulary, four captioners (CNN + RNN, + LSTM, + LSTM
with soft attention, transformer decoder), greedy and beam-search decoding as jitted loops,
BLEU-1…4 and the decoded captions' metrics (training: :mod:`cs231n_jax.tasks.captioning`).

Importing the package registers the captioners (family ``caption``: ``rnn``, ``lstm``,
``attention_lstm``, ``transformer``) in the model registry."""

from cs231n_jax.captioning import models  # noqa: F401  (registers the captioners)
