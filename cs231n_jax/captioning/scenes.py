"""Synthetic captioned scenes: coloured shapes in positions, captioned from their layout.

A scene is one shape or two on a dark, slightly noisy canvas. Shapes are a circle, a square or a
triangle; colours red, green, blue or yellow — 12 kinds of object. Two objects are placed so that
one relation is unambiguous (their offset along one axis is at least a shape's width, along the
other at most a third of it). Every image gets two captions, as COCO images get five:

    one object:   "a red circle"                      "there is a red circle"
    two objects:  "a red circle above a blue square"   "a blue square below a red circle"

with the relations above / below / left of / right of. Ground truth is exact: the caption words
are determined by the pixels, and each object's box is known (the attention-map check uses it).

Splits test *composition*: the 66 unordered pairs of distinct object kinds are shuffled (by seed)
and ``heldout_pair_fraction`` of them never appear together in training or validation; the test
split shows only those unseen pairs (each object kind itself is familiar). Validation is fresh
images of seen combinations. So val measures ordinary generalisation, test measures
generalisation to new combinations.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np

from cs231n_jax.errors import DataError

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.12, 0.1), "green": (0.1, 0.75, 0.15), "blue": (0.15, 0.3, 0.95), "yellow": (0.95, 0.85, 0.1),
}
SHAPES = ("circle", "square", "triangle")
RELATIONS: dict[str, tuple[int, int]] = {"above": (0, -1), "below": (0, 1), "left of": (-1, 0), "right of": (1, 0)}
INVERSE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}
OBJECT_KINDS = tuple(itertools.product(COLORS, SHAPES))  # 12 (colour, shape) kinds
BACKGROUND = 0.08
NOISE_STD = 0.03
DEFAULT_IMAGE_SIZE = 32
MAX_CAPTION_WORDS = 8  # "a yellow triangle right of a green circle"


@dataclasses.dataclass(frozen=True)
class SceneObject:
  color: str
  shape: str
  cx: float  # centre, pixels (x to the right, y down)
  cy: float
  radius: float

  @property
  def box(self) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1), inclusive pixel bounds of the shape."""
    return (self.cx - self.radius, self.cy - self.radius, self.cx + self.radius, self.cy + self.radius)

  @property
  def words(self) -> str:
    return f"{self.color} {self.shape}"


@dataclasses.dataclass(frozen=True)
class Scene:
  objects: tuple[SceneObject, ...]
  relation: str | None = None  # objects[0] <relation> objects[1]

  def captions(self) -> list[str]:
    if len(self.objects) == 1:
      o = self.objects[0]
      return [f"a {o.words}", f"there is a {o.words}"]
    a, b = self.objects
    return [f"a {a.words} {self.relation} a {b.words}", f"a {b.words} {INVERSE[self.relation]} a {a.words}"]


def shape_mask(obj: SceneObject, size: int) -> np.ndarray:
  """(size, size) booleans: the pixels the shape covers."""
  y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
  dx, dy = x - obj.cx, y - obj.cy
  r = obj.radius
  if obj.shape == "circle":
    return dx * dx + dy * dy <= r * r
  if obj.shape == "square":
    side = 0.85 * r  # the same visual area as the circle, roughly
    return (np.abs(dx) <= side) & (np.abs(dy) <= side)
  if obj.shape == "triangle":  # apex up, base at the bottom
    return (dy <= r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 2)
  raise DataError(f"scene: unknown shape {obj.shape!r}; expected one of {SHAPES}")


def render(scene: Scene, size: int = DEFAULT_IMAGE_SIZE, rng: np.random.Generator | None = None,
           noise_std: float = NOISE_STD) -> np.ndarray:
  """(size, size, 3) float32 in [0, 1]."""
  image = np.full((size, size, 3), BACKGROUND, np.float32)
  for obj in scene.objects:
    image[shape_mask(obj, size)] = COLORS[obj.color]
  if rng is not None and noise_std > 0:
    image = image + rng.normal(0.0, noise_std, image.shape).astype(np.float32)
  return np.clip(image, 0.0, 1.0)


def object_pairs() -> list[tuple[tuple[str, str], tuple[str, str]]]:
  """The 66 unordered pairs of distinct object kinds."""
  return list(itertools.combinations(OBJECT_KINDS, 2))


def split_pairs(seed: int, heldout_pair_fraction: float) -> tuple[list, list]:
  """(seen, held-out) object pairs, shuffled by ``seed``."""
  if not 0.0 < heldout_pair_fraction < 1.0:
    raise DataError(f"data.heldout_pair_fraction: expected a fraction in (0, 1), got {heldout_pair_fraction}")
  pairs = object_pairs()
  order = np.random.default_rng(seed).permutation(len(pairs))
  n_held = max(1, int(round(heldout_pair_fraction * len(pairs))))
  return [pairs[i] for i in order[n_held:]], [pairs[i] for i in order[:n_held]]


def sample_scene(rng: np.random.Generator, pairs: Sequence, single_fraction: float, size: int = DEFAULT_IMAGE_SIZE) -> Scene:
  """One random scene: a single object with probability ``single_fraction``, else a pair from
  ``pairs`` in random order with a random relation."""
  radius = size * 0.14
  margin = radius + 1.0
  if rng.random() < single_fraction:
    color, shape = OBJECT_KINDS[rng.integers(len(OBJECT_KINDS))]
    cx, cy = rng.uniform(margin, size - margin, 2)
    return Scene((SceneObject(color, shape, float(cx), float(cy), radius),))
  first, second = pairs[rng.integers(len(pairs))]
  if rng.random() < 0.5:
    first, second = second, first
  relation = list(RELATIONS)[rng.integers(len(RELATIONS))]
  ux, uy = RELATIONS[relation]
  # first <relation> second: first sits on the relation's side of second, e.g. "above" -> smaller y.
  main = rng.uniform(2 * radius + 2.0, size - 2 * margin)  # distance along the relation's axis
  cross = rng.uniform(-radius / 3, radius / 3)
  dx, dy = (ux * main, cross) if ux else (cross, uy * main)
  lo_x, hi_x = margin - min(dx, 0), size - margin - max(dx, 0)
  lo_y, hi_y = margin - min(dy, 0), size - margin - max(dy, 0)
  sx, sy = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
  a = SceneObject(*first, float(sx + dx), float(sy + dy), radius)
  b = SceneObject(*second, float(sx), float(sy), radius)
  return Scene((a, b), relation)


def generate(num_scenes: int, pairs: Sequence, single_fraction: float, seed: int,
             size: int = DEFAULT_IMAGE_SIZE, noise_std: float = NOISE_STD) -> tuple[np.ndarray, list[Scene]]:
  """``num_scenes`` rendered images (N, size, size, 3) and their scenes, reproducible from seed."""
  if num_scenes < 1:
    raise DataError(f"scenes: expected a positive number of scenes, got {num_scenes}")
  if size < 16:
    raise DataError(f"data.image_size: scenes need at least 16 pixels a side, got {size}")
  rng = np.random.default_rng(seed)
  scenes = [sample_scene(rng, pairs, single_fraction, size) for _ in range(num_scenes)]
  images = np.stack([render(s, size, rng, noise_std) for s in scenes])
  return images, scenes
