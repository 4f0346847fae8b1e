"""Character-level language modelling (lecture 10): the corpus (Python's ``pydoc_data.topics``),
n-gram baselines, the min-char-rnn port, Flax char-RNN/LSTM models, a jitted ``lax.scan``
temperature sampler, the interpretable-cells figure, the exploding / vanishing-gradient
demonstration and the copy (long-lag) task. Training them (truncated BPTT, the gist's run) is the
char-LM task's: :mod:`cs231n_jax.tasks.char_lm`."""

from cs231n_jax.text import copy_task, model, seq2seq, transformer  # noqa: F401  (register char_lm, char_transformer, copy_net, seq2seq)
from cs231n_jax.text.corpus import CharCorpus, CharVocab, corpus_from_text, load_corpus, load_pydoc_corpus, pydoc_text

__all__ = ["CharCorpus", "CharVocab", "corpus_from_text", "load_corpus", "load_pydoc_corpus", "pydoc_text"]
