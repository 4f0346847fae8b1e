"""The character corpus: Python's own documentation text, with a held-out split, and its vocabulary.

``pydoc_data.topics`` ships with every CPython (the text behind ``help("with")``): joined in
sorted-key order it is 464,970 characters over 103 distinct characters on Python 3.11.7 (other
Python versions ship slightly different text, so every measured number names the version). No
download, yet real English prose mixed with code — the kind of text min-char-rnn was written for.

Splits are contiguous slices of that order (held-out text is *later topics*, not shuffled
sentences): the first 85% trains, the next 5% validates (model selection, the n-grams' smoothing),
the last 10% is the held-out test text every bits-per-character number is reported on.

The vocabulary is built from the training text alone, plus one unknown-character index (the last)
for characters that only occur in held-out text, so nothing about held-out text leaks into the
model's input space; ``CharCorpus.unknown_counts`` reports how often that happens.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cs231n_jax.errors import DataError

DEFAULT_VAL_FRACTION = 0.05
DEFAULT_TEST_FRACTION = 0.10
UNKNOWN_CHAR = "\ufffd"  # how the unknown index decodes (the Unicode replacement character)
SOURCES = ("pydoc", "file")


def pydoc_text() -> str:
  """Every topic of ``pydoc_data.topics``, joined in sorted-key order."""
  from pydoc_data import topics

  return "".join(topics.topics[k] for k in sorted(topics.topics))


@dataclasses.dataclass(frozen=True)
class CharVocab:
  """Characters <-> integer ids; id ``len(chars)`` is the unknown character."""

  chars: tuple[str, ...]

  def __post_init__(self):
    if not self.chars:
      raise DataError("vocabulary: no characters (the training text is empty)")
    if len(set(self.chars)) != len(self.chars):
      raise DataError("vocabulary: characters must be distinct")

  @classmethod
  def from_text(cls, text: str) -> "CharVocab":
    return cls(tuple(sorted(set(text))))

  @property
  def size(self) -> int:
    """Number of ids, the unknown one included."""
    return len(self.chars) + 1

  @property
  def unknown_id(self) -> int:
    return len(self.chars)

  def encode(self, text: str) -> np.ndarray:
    """int32 ids; characters outside the vocabulary map to ``unknown_id``."""
    table = {c: i for i, c in enumerate(self.chars)}
    return np.fromiter((table.get(c, self.unknown_id) for c in text), dtype=np.int32, count=len(text))

  def decode(self, ids: Any) -> str:
    chars = self.chars + (UNKNOWN_CHAR,)
    return "".join(chars[int(i)] for i in np.asarray(ids).ravel())

  def fingerprint(self) -> str:
    """A short hash of the characters, to recognise the vocabulary a checkpoint was trained with."""
    return hashlib.sha256("".join(self.chars).encode("utf-8", "surrogatepass")).hexdigest()[:16]

  def to_json(self) -> list[str]:
    return list(self.chars)

  @classmethod
  def from_json(cls, chars: list[str]) -> "CharVocab":
    return cls(tuple(chars))


@dataclasses.dataclass(frozen=True)
class CharCorpus:
  """Encoded splits of a text and the vocabulary they were encoded with."""

  name: str
  vocab: CharVocab
  train: np.ndarray
  val: np.ndarray
  test: np.ndarray

  def split(self, name: str) -> np.ndarray:
    if name not in ("train", "val", "test"):
      raise ValueError(f"split: expected 'train', 'val' or 'test', got {name!r}")
    return getattr(self, name)

  def unknown_counts(self) -> dict[str, int]:
    return {s: int(np.sum(self.split(s) == self.vocab.unknown_id)) for s in ("train", "val", "test")}

  def describe(self) -> dict[str, Any]:
    return {"name": self.name, "vocab_size": self.vocab.size, "train_chars": len(self.train),
            "val_chars": len(self.val), "test_chars": len(self.test), "unknown": self.unknown_counts(),
            "python": sys.version.split()[0]}


def split_text(text: str, val_fraction: float = DEFAULT_VAL_FRACTION,
               test_fraction: float = DEFAULT_TEST_FRACTION) -> tuple[str, str, str]:
  """Contiguous (train, val, test) slices of ``text``."""
  for name, f in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
    if not 0.0 < f < 1.0:
      raise DataError(f"{name}: expected a fraction in (0, 1), got {f}")
  if val_fraction + test_fraction >= 1.0:
    raise DataError(f"data.val_fraction + data.test_fraction must leave training text, got {val_fraction} + {test_fraction}")
  n = len(text)
  n_test = int(round(n * test_fraction))
  n_val = int(round(n * val_fraction))
  n_train = n - n_val - n_test
  return text[:n_train], text[n_train:n_train + n_val], text[n_train + n_val:]


def corpus_from_text(text: str, name: str = "text", val_fraction: float = DEFAULT_VAL_FRACTION,
                     test_fraction: float = DEFAULT_TEST_FRACTION, min_chars_per_split: int = 2) -> CharCorpus:
  """Split, build the vocabulary from the training slice, encode. Empty or tiny text is an error."""
  if not text:
    raise DataError(f"corpus {name!r}: the text is empty; a character model needs text to learn from")
  train, val, test = split_text(text, val_fraction, test_fraction)
  for split_name, part in (("train", train), ("val", val), ("test", test)):
    if len(part) < min_chars_per_split:
      raise DataError(
          f"corpus {name!r}: the {split_name} split has {len(part)} characters (need at least "
          f"{min_chars_per_split}) — the text has only {len(text)}")
  vocab = CharVocab.from_text(train)
  return CharCorpus(name, vocab, vocab.encode(train), vocab.encode(val), vocab.encode(test))


def load_pydoc_corpus(val_fraction: float = DEFAULT_VAL_FRACTION, test_fraction: float = DEFAULT_TEST_FRACTION) -> CharCorpus:
  return corpus_from_text(pydoc_text(), "pydoc_data.topics", val_fraction, test_fraction)


def load_corpus(data_config: Mapping[str, Any]) -> CharCorpus:
  """The corpus a config's ``data`` block names: ``name="pydoc"`` (the default) or ``name="file"``
  with ``path`` (a UTF-8 text file, e.g. the Shakespeare of lecture 10 if you have it)."""
  name = data_config.get("name", "pydoc")
  val_fraction = data_config.get("val_fraction", DEFAULT_VAL_FRACTION)
  test_fraction = data_config.get("test_fraction", DEFAULT_TEST_FRACTION)
  if name == "pydoc":
    return load_pydoc_corpus(val_fraction, test_fraction)
  if name == "file":
    path = data_config.get("path") or ""
    if not path or not Path(path).is_file():
      raise DataError(f"data.path: no such text file {path!r}")
    return corpus_from_text(Path(path).read_text(encoding="utf-8"), Path(path).name, val_fraction, test_fraction)
  raise DataError(f"data.name: expected one of {SOURCES}, got {name!r}")
