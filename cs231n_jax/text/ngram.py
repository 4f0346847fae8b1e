"""Character n-gram baselines in bits per character: what a char-RNN has to beat.

An order-n model predicts a character from the n-1 before it with add-k smoothed counts from the
training text,

    P(x | ctx) = (count(ctx, x) + k) / (count(ctx) + k V),

V the vocabulary size (the unknown id included). Contexts that reach back before the start of a
text are padded with a begin symbol, so every scored position has a context of full length. k is
chosen per order on the validation split from ``SMOOTHING_GRID`` and the test split is scored
once with it — the same protocol the neural models follow (choose on val, report test).

Every evaluation scores positions 1 … L-1 of the split (the first character has no history for
any model), so n-gram and RNN numbers are over exactly the same characters. The counts are numpy
hash tables (context ids packed into one int64 key), so the 4-gram over 400k characters takes
well under a second.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from cs231n_jax.text.corpus import CharCorpus

SMOOTHING_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.05, 0.1, 0.3, 1.0)
DEFAULT_ORDERS = (1, 2, 3, 4, 5)
MAX_KEY = np.iinfo(np.int64).max


def context_keys(ids: np.ndarray, order: int, base: int) -> np.ndarray:
  """For every position t of ``ids``: the previous order-1 ids (begin-padded) packed into one
  int64, most recent last (the begin symbol is ``base - 1``)."""
  ids = np.asarray(ids, np.int64)
  if order == 1:
    return np.zeros(len(ids), np.int64)
  if base ** (order - 1) * base > MAX_KEY:
    raise ValueError(f"context_keys: order {order} with {base} symbols overflows an int64 key")
  padded = np.concatenate([np.full(order - 1, base - 1, np.int64), ids])
  key = np.zeros(len(ids), np.int64)
  for j in range(order - 1):
    key = key * base + padded[j:j + len(ids)]
  return key


@dataclasses.dataclass(frozen=True)
class NGramModel:
  """Sorted count tables of an order-``order`` character model over ``vocab_size`` symbols."""

  order: int
  vocab_size: int
  context_table: np.ndarray  # sorted unique context keys
  context_counts: np.ndarray
  pair_table: np.ndarray  # sorted unique (context, next) keys
  pair_counts: np.ndarray

  @classmethod
  def fit(cls, train_ids: np.ndarray, order: int, vocab_size: int) -> "NGramModel":
    if order < 1:
      raise ValueError(f"NGramModel: order must be at least 1, got {order}")
    if len(train_ids) == 0:
      raise ValueError("NGramModel: no training text")
    ctx = context_keys(train_ids, order, vocab_size + 1)
    pairs = ctx * vocab_size + np.asarray(train_ids, np.int64)
    context_table, context_counts = np.unique(ctx, return_counts=True)
    pair_table, pair_counts = np.unique(pairs, return_counts=True)
    return cls(order, vocab_size, context_table, context_counts, pair_table, pair_counts)

  @staticmethod
  def _lookup(table: np.ndarray, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    idx = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
    return np.where(table[idx] == keys, counts[idx], 0)

  def log2_probs(self, ids: np.ndarray, k: float, start: int = 1) -> np.ndarray:
    """log₂ P(ids[t] | history) for t = start … len-1 (history from ``ids`` itself)."""
    if k <= 0:
      raise ValueError(f"NGramModel: smoothing k must be positive, got {k}")
    ids = np.asarray(ids, np.int64)
    ctx = context_keys(ids, self.order, self.vocab_size + 1)[start:]
    pairs = ctx * self.vocab_size + ids[start:]
    c_pair = self._lookup(self.pair_table, self.pair_counts, pairs)
    c_ctx = self._lookup(self.context_table, self.context_counts, ctx)
    return np.log2(c_pair + k) - np.log2(c_ctx + k * self.vocab_size)

  def bits_per_char(self, ids: np.ndarray, k: float) -> float:
    return float(-np.mean(self.log2_probs(ids, k)))


def ngram_baselines(corpus: CharCorpus, orders: Sequence[int] = DEFAULT_ORDERS,
                    smoothing_grid: Sequence[float] = SMOOTHING_GRID) -> dict[str, dict[str, float]]:
  """Per order: the k chosen on val, and val / test bits per character; plus the uniform model."""
  out = {"uniform": {"k": 0.0, "val_bits": math.log2(corpus.vocab.size), "test_bits": math.log2(corpus.vocab.size)}}
  for order in orders:
    model = NGramModel.fit(corpus.train, order, corpus.vocab.size)
    val = {k: model.bits_per_char(corpus.val, k) for k in smoothing_grid}
    best_k = min(val, key=val.get)
    out[f"{order}-gram"] = {"k": best_k, "val_bits": val[best_k], "test_bits": model.bits_per_char(corpus.test, best_k)}
  return out


def baseline_table(baselines: dict[str, dict[str, float]]) -> str:
  """A Markdown table of ``ngram_baselines``."""
  rows = ["| model | smoothing k (chosen on val) | val bits/char | test bits/char |", "|---|---|---|---|"]
  for name, r in baselines.items():
    rows.append(f"| {name} | {r['k']:g} | {r['val_bits']:.3f} | {r['test_bits']:.3f} |")
  return "\n".join(rows)
