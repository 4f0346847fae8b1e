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


# ---------------------------------------------------------------------------------------------
# Interpolated Kneser-Ney: the honest classical baseline.
# ---------------------------------------------------------------------------------------------


def _order_keys(ids: np.ndarray, order: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
  """(context keys, (context, next) keys) of every position of ``ids`` for an order-``order`` model."""
  ctx = context_keys(ids, order, vocab_size + 1)
  return ctx, ctx * vocab_size + np.asarray(ids, np.int64)


@dataclasses.dataclass(frozen=True)
class _KNLevel:
  """One order of a Kneser-Ney model: the (continuation) counts a(h, w), their per-context sums
  A(h) and distinct followers N1+(h •), and the absolute discount D."""

  pair_table: np.ndarray
  pair_counts: np.ndarray
  context_table: np.ndarray
  context_totals: np.ndarray
  context_types: np.ndarray
  discount: float


class KneserNeyModel:
  """Interpolated Kneser-Ney character model of order n (Chen & Goodman 1998, "interpolated KN").

  For the highest order the counts are the ordinary counts c(h, w); for every lower order k < n
  they are continuation counts N1+(• h w) — in how many distinct contexts one symbol longer the
  k-gram was seen — so a character that only ever follows one history gets little lower-order mass.
  Every order interpolates with the one below by absolute discounting,

      P_k(w | h) = max(a(h, w) - D_k, 0) / A(h) + D_k N1+(h •) / A(h) · P_{k-1}(w | h'),

  h' the history without its oldest character, A(h) = Σ_w a(h, w); an unseen history (A(h) = 0)
  falls back to P_{k-1} whole. The unigram level interpolates with the uniform 1/V, so every
  character (the unknown id included) keeps a probability above zero and every distribution sums
  to 1. D_k = n1 / (n1 + 2 n2) from the count-of-counts of level k (Ney, Essen & Kneser 1994), so
  nothing is tuned on the held-out text (0.5 where a level has no counts of 1 or 2, as the unigram
  continuation counts of a long text do). Histories that reach before the start of a text are
  padded with a begin symbol, as in :class:`NGramModel`.
  """

  def __init__(self, train_ids: np.ndarray, order: int, vocab_size: int):
    if order < 1:
      raise ValueError(f"KneserNeyModel: order must be at least 1, got {order}")
    if len(train_ids) == 0:
      raise ValueError("KneserNeyModel: no training text")
    self.order, self.vocab_size = order, vocab_size
    train_ids = np.asarray(train_ids, np.int64)
    self.levels = []
    for k in range(1, order + 1):
      if k == order:
        pairs = _order_keys(train_ids, k, vocab_size)[1]
      else:  # continuation counts: distinct (k+1)-grams, their oldest symbol dropped
        longer = np.unique(_order_keys(train_ids, k + 1, vocab_size)[1])
        pairs = longer % ((vocab_size + 1) ** (k - 1) * vocab_size)
      pair_table, pair_counts = np.unique(pairs, return_counts=True)
      contexts = pair_table // vocab_size
      context_table, first = np.unique(contexts, return_index=True)
      context_totals = np.add.reduceat(pair_counts, first)
      context_types = np.diff(np.append(first, len(contexts)))
      n1, n2 = np.sum(pair_counts == 1), np.sum(pair_counts == 2)
      discount = float(n1 / (n1 + 2 * n2)) if n1 + n2 > 0 else 0.5
      self.levels.append(_KNLevel(pair_table, pair_counts, context_table, context_totals, context_types, discount))

  @property
  def discounts(self) -> tuple[float, ...]:
    return tuple(level.discount for level in self.levels)

  def _probs(self, ctx_by_order: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
    p = np.full(targets.shape, 1.0 / self.vocab_size)
    for level, ctx in zip(self.levels, ctx_by_order):
      a = NGramModel._lookup(level.pair_table, level.pair_counts, ctx * self.vocab_size + targets)
      total = NGramModel._lookup(level.context_table, level.context_totals, ctx)
      types = NGramModel._lookup(level.context_table, level.context_types, ctx)
      seen = total > 0
      safe = np.where(seen, total, 1)
      interpolated = np.maximum(a - level.discount, 0) / safe + level.discount * types / safe * p
      p = np.where(seen, interpolated, p)
    return p

  def log2_probs(self, ids: np.ndarray, start: int = 1) -> np.ndarray:
    """log₂ P(ids[t] | history) for t = start … len-1 (history from ``ids`` itself)."""
    ids = np.asarray(ids, np.int64)
    ctx = [context_keys(ids, k, self.vocab_size + 1)[start:] for k in range(1, self.order + 1)]
    return np.log2(self._probs(ctx, ids[start:]))

  def bits_per_char(self, ids: np.ndarray) -> float:
    return float(-np.mean(self.log2_probs(ids)))

  def distribution(self, history: Sequence[int]) -> np.ndarray:
    """P(w | history) for every w of the vocabulary (the history begin-padded as in training)."""
    ids = np.append(np.asarray(history, np.int64), 0)
    ctx = [np.full(self.vocab_size, context_keys(ids, k, self.vocab_size + 1)[-1]) for k in range(1, self.order + 1)]
    return self._probs(ctx, np.arange(self.vocab_size, dtype=np.int64))


def kneser_ney_baselines(corpus: CharCorpus, orders: Sequence[int] = DEFAULT_ORDERS) -> dict[str, dict[str, float]]:
  """Per order: interpolated Kneser-Ney val / test bits per character (discounts from the training
  counts; the column ``k`` of :func:`baseline_table` holds the highest order's discount)."""
  out = {}
  for order in orders:
    model = KneserNeyModel(corpus.train, order, corpus.vocab.size)
    out[f"KN {order}-gram"] = {"k": model.discounts[-1], "val_bits": model.bits_per_char(corpus.val),
                               "test_bits": model.bits_per_char(corpus.test)}
  return out
