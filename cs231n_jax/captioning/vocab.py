"""The caption vocabulary, with the course's four special tokens at ids 0-3.

``<NULL>`` pads every caption to the same length (and is masked out of the loss), ``<START>``
begins every caption and is the first input at test time, ``<END>`` stops sampling, and ``<UNK>``
stands for any word that is not in the vocabulary ("rare words are replaced with a special <UNK>
token", RNN_Captioning.ipynb). The order and the JSON layout (``idx_to_word`` / ``word_to_idx``)
are those of the course's ``coco2014_vocab.json``.

Encoding: ``encode(caption, max_length)`` gives ``[<START>, w_1, …, w_n, <END>, <NULL>, …]`` of
exactly ``max_length`` ids — ``max_length`` counts the ``<START>`` and ``<END>`` tokens, so a caption
may have at most ``max_length - 2`` words. A longer caption is rejected with a one-line error by
default (``overflow="error"``); ``overflow="truncate"`` keeps its first ``max_length - 2`` words and
still ends it with ``<END>``.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import re
from typing import Any, Iterable, Sequence

import numpy as np
from etils import epath

from cs231n_jax.errors import DataError

NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
SPECIALS = (NULL, START, END, UNK)
NULL_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
OVERFLOW_MODES = ("error", "truncate")
_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(caption: str) -> list[str]:
  """Lower-case words; punctuation dropped."""
  return _TOKEN.findall(caption.lower())


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  idx_to_word: tuple[str, ...]

  def __post_init__(self):
    if tuple(self.idx_to_word[:4]) != SPECIALS:
      raise DataError(f"vocabulary: the first four words must be {SPECIALS}, got {tuple(self.idx_to_word[:4])}")
    if len(set(self.idx_to_word)) != len(self.idx_to_word):
      raise DataError("vocabulary: words must be distinct")

  @classmethod
  def build(cls, captions: Iterable[str], min_count: int = 1) -> "Vocabulary":
    """The specials, then every word occurring at least ``min_count`` times (most frequent first,
    ties alphabetical); rarer words will encode as ``<UNK>``."""
    counts = collections.Counter(w for c in captions for w in tokenize(c))
    words = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS), key=lambda w: (-counts[w], w))
    return cls(SPECIALS + tuple(words))

  @property
  def word_to_idx(self) -> dict[str, int]:
    return {w: i for i, w in enumerate(self.idx_to_word)}

  @property
  def size(self) -> int:
    return len(self.idx_to_word)

  def encode(self, caption: str | Sequence[str], max_length: int, overflow: str = "error") -> np.ndarray:
    """``[<START>, words…, <END>, <NULL>…]`` of length ``max_length``; unknown words -> ``<UNK>``."""
    if overflow not in OVERFLOW_MODES:
      raise ValueError(f"encode: overflow must be one of {OVERFLOW_MODES}, got {overflow!r}")
    if max_length < 3:
      raise ValueError(f"encode: max_length counts <START> and <END>, so it must be at least 3, got {max_length}")
    words = tokenize(caption) if isinstance(caption, str) else list(caption)
    if len(words) > max_length - 2:
      if overflow == "error":
        raise DataError(
            f"caption {' '.join(words)[:60]!r} has {len(words)} words but max_length {max_length} allows "
            f"{max_length - 2} (plus <START> and <END>); raise max_length or pass overflow='truncate'")
      words = words[:max_length - 2]
    table = self.word_to_idx
    ids = [START_ID] + [table.get(w, UNK_ID) for w in words] + [END_ID]
    return np.asarray(ids + [NULL_ID] * (max_length - len(ids)), np.int32)

  def encode_batch(self, captions: Sequence[str], max_length: int, overflow: str = "error") -> np.ndarray:
    return np.stack([self.encode(c, max_length, overflow) for c in captions]) if captions else np.zeros((0, max_length), np.int32)

  def decode(self, ids: Any) -> str:
    """The words of one caption: ``<START>`` and ``<NULL>`` dropped, stops at ``<END>``."""
    words = []
    for i in np.asarray(ids).ravel():
      i = int(i)
      if i == END_ID:
        break
      if i in (NULL_ID, START_ID):
        continue
      words.append(self.idx_to_word[i] if 0 <= i < self.size else UNK)
    return " ".join(words)

  def decode_batch(self, ids: Any) -> list[str]:
    return [self.decode(row) for row in np.asarray(ids)]

  def fingerprint(self) -> str:
    return hashlib.sha256("\n".join(self.idx_to_word).encode()).hexdigest()[:16]

  def to_json(self) -> dict[str, Any]:
    """The course's ``coco2014_vocab.json`` layout."""
    return {"idx_to_word": list(self.idx_to_word), "word_to_idx": self.word_to_idx}

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "Vocabulary":
    idx_to_word = list(data.get("idx_to_word", []))
    word_to_idx = data.get("word_to_idx")
    if word_to_idx is not None and any(word_to_idx.get(w) != i for i, w in enumerate(idx_to_word)):
      raise DataError("vocabulary: idx_to_word and word_to_idx disagree")
    return cls(tuple(idx_to_word))

  def save(self, path) -> None:
    with epath.Path(path).open("w") as f:
      json.dump(self.to_json(), f)
