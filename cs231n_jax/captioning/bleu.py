"""BLEU (Papineni et al. 2002): the n-gram overlap score captioning papers report.

For a corpus of hypotheses, each with one or more references:

* modified n-gram precision ``p_n``: every n-gram of a hypothesis counts at most as many times as
  it occurs in the *one* reference where it occurs most ("clipped" counts), summed over the corpus
  and divided by the number of hypothesis n-grams;
* brevity penalty ``BP = 1`` if the total hypothesis length c exceeds r, else ``exp(1 - r/c)``,
  where r sums, per hypothesis, the length of the reference closest in length (ties: the shorter);
* ``BLEU-N = BP · exp((1/N) Σ_{n=1..N} log p_n)`` — uniform weights, so BLEU-4 is the geometric
  mean of p_1 … p_4 times BP. A zero precision makes the score 0 (no smoothing: corpus-level BLEU
  as in the original paper and the COCO evaluation code).

Tokens are words (strings); the caller strips ``<START>``/``<END>``/``<NULL>``.
"""

from __future__ import annotations

import collections
import math
from typing import Sequence

MAX_ORDER = 4


def ngrams(tokens: Sequence[str], n: int) -> collections.Counter:
  return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def closest_reference_length(hypothesis_length: int, reference_lengths: Sequence[int]) -> int:
  return min(reference_lengths, key=lambda r: (abs(r - hypothesis_length), r))


def corpus_statistics(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]],
                      max_order: int = MAX_ORDER) -> dict[str, list[int] | int]:
  """Clipped matches and totals per order, hypothesis length c, effective reference length r."""
  if len(hypotheses) != len(references):
    raise ValueError(f"bleu: {len(hypotheses)} hypotheses but {len(references)} reference lists")
  matches, totals = [0] * max_order, [0] * max_order
  c = r = 0
  for hyp, refs in zip(hypotheses, references):
    if not refs:
      raise ValueError("bleu: every hypothesis needs at least one reference")
    c += len(hyp)
    r += closest_reference_length(len(hyp), [len(ref) for ref in refs])
    for n in range(1, max_order + 1):
      counts = ngrams(hyp, n)
      best = collections.Counter()
      for ref in refs:
        best |= ngrams(ref, n)  # max count of each n-gram over the references
      matches[n - 1] += sum(min(k, best[g]) for g, k in counts.items())
      totals[n - 1] += max(len(hyp) - n + 1, 0)
  return {"matches": matches, "totals": totals, "hypothesis_length": c, "reference_length": r}


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]],
                max_order: int = MAX_ORDER) -> dict[str, float]:
  """``{"bleu1": …, …, "bleu4": …, "brevity_penalty": …, "precision1": …}`` over the corpus."""
  s = corpus_statistics(hypotheses, references, max_order)
  c, r = s["hypothesis_length"], s["reference_length"]
  bp = 0.0 if c == 0 else (1.0 if c > r else math.exp(1.0 - r / c))
  out = {"brevity_penalty": bp}
  precisions = []
  for n in range(1, max_order + 1):
    total = s["totals"][n - 1]
    p = s["matches"][n - 1] / total if total else 0.0
    precisions.append(p)
    out[f"precision{n}"] = p
    out[f"bleu{n}"] = 0.0 if min(precisions) == 0 else bp * math.exp(sum(math.log(q) for q in precisions) / n)
  return out
