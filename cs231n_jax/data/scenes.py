"""Synthetic scenes with exact ground truth: captioned scenes (lecture 10) and detection scenes (lecture 11).

**Captioned scenes** (:func:`generate`, used by :mod:`cs231n_jax.captioning`). A scene is one shape
or two on a dark, slightly noisy canvas. Shapes are a circle, a square or a triangle; colours red,
green, blue or yellow — 12 kinds of object. Two objects are placed so that one relation is
unambiguous (their offset along one axis is at least a shape's width, along the other at most a
third of it). Every image gets two captions, as COCO images get five:

    one object:   "a red circle"                      "there is a red circle"
    two objects:  "a red circle above a blue square"   "a blue square below a red circle"

with the relations above / below / left of / right of. Ground truth is exact: the caption words
are determined by the pixels, and each object's box is known (the attention-map check uses it).

Splits test *composition*: the 66 unordered pairs of distinct object kinds are shuffled (by seed)
and ``heldout_pair_fraction`` of them never appear together in training or validation; the test
split shows only those unseen pairs (each object kind itself is familiar). Validation is fresh
images of seen combinations. So val measures ordinary generalisation, test measures
generalisation to new combinations.

**Detection scenes** (:func:`detection_scenes`, :func:`load_detection_scenes`, used by
:mod:`cs231n_jax.detection` and the segmentation / detection tasks). A square canvas (56 to 128
pixels a side) holds 1 to ``max_objects`` (at most 6) objects: shapes (circle, square, triangle)
of several radii and real handwritten digits from scikit-learn's ``load_digits`` pasted at several
scales, each in a random colour; later objects occlude earlier ones. Ground truth per scene, padded
to ``max_objects`` (static shapes): the *visible* instance masks, boxes computed from the masks
(tight: ``(x0, y0, x1, y1)`` in pixel-edge coordinates, ``x1 = last column + 1``), class labels and
a semantic label map (0 = background, class ``c`` -> ``c + 1``). Placements that would leave an
earlier object with less than ``min_visible`` of its own area are redrawn, so every instance stays
recognisable. The splits are deterministic from a seed; the digits of each split come from the
matching split of :mod:`cs231n_jax.data.digits` (held-out scenes show held-out handwriting).
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


# ---------------------------------------------------------------------------------------------
# Detection scenes: many objects, occlusion, masks, tight boxes, semantic maps.

DETECTION_SHAPES = SHAPES
DIGIT_CLASSES = tuple(str(d) for d in range(10))
CLASS_NAMES = DETECTION_SHAPES + DIGIT_CLASSES  # 13 classes: 0-2 shapes, 3-12 digits "0".."9"
CLASS_SETS: dict[str, tuple[str, ...]] = {"shapes": DETECTION_SHAPES, "digits": DIGIT_CLASSES, "all": CLASS_NAMES}
MIN_CANVAS, MAX_CANVAS = 56, 128
MAX_OBJECTS = 6
SPLIT_OFFSETS = {"train": 1, "val": 2, "test": 3}
DIGIT_SCALES = (2.0, 3.0, 4.0)  # pixels per digit pixel at a 64-pixel canvas (scaled with the canvas)
SHAPE_RADII = (0.09, 0.18)  # radius range as fractions of the canvas side
DIGIT_THRESHOLD = 0.3  # a digit's pixel belongs to the object where its intensity exceeds this fraction
# Random affine distortions of the pasted TRAINING digits (``digit_distort``): the largest magnitude allowed per field.
DIGIT_DISTORT_LIMITS = {"rotate_deg": 45.0, "shear": 0.5, "scale": 0.5}
DISTORT_STREAM = 101  # distortions draw from their own stream: the scenes' classes, places and colours stay the plain ones


@dataclasses.dataclass(frozen=True)
class DetectionScenes:
  """One split of detection scenes, padded to ``max_objects`` per scene.

  ``images`` (N, S, S, 3) float32 in [0, 1]; ``boxes`` (N, M, 4) float32 ``(x0, y0, x1, y1)``;
  ``labels`` (N, M) int32 (class index, -1 where padded); ``valid`` (N, M) bool; ``masks`` (N, M, S, S)
  bool visible instance masks; ``semantic`` (N, S, S) int32 (0 background, class + 1);
  ``class_names`` the names of the class indices.
  """

  images: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray
  valid: np.ndarray
  masks: np.ndarray
  semantic: np.ndarray
  class_names: tuple[str, ...]

  def __len__(self) -> int:
    return len(self.images)

  def arrays(self, with_masks: bool = True) -> dict[str, np.ndarray]:
    out = {"image": self.images, "boxes": self.boxes, "labels": self.labels, "valid": self.valid, "semantic": self.semantic}
    if with_masks:
      out["masks"] = self.masks
    return out


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
  """The tight box of a boolean mask, ``(x0, y0, x1, y1)`` with ``x1`` = last column + 1."""
  ys, xs = np.nonzero(mask)
  if len(xs) == 0:
    raise DataError("scenes: an empty mask has no box")
  return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _shape_pixels(shape: str, cx: float, cy: float, radius: float, size: int) -> np.ndarray:
  return shape_mask(SceneObject("red", shape, cx, cy, radius), size)


def _digit_pixels(digit: np.ndarray, scale: float, x0: int, y0: int, size: int,
                  distort: tuple[float, float, float] | None = None) -> np.ndarray:
  """The mask of an 8x8 digit (0..16) bilinearly zoomed by ``scale`` with its top-left at (x0, y0).

  ``distort = (angle_rad, shear, zoom)`` warps the zoomed digit about its centre (scipy's
  ``affine_transform``, bilinear) before it is thresholded, so the mask (and the box drawn from it) is exact;
  the warped digit may spill a margin around its frame and is clipped to the canvas.
  """
  from scipy.ndimage import affine_transform, zoom

  big = zoom(digit / 16.0, scale, order=1)
  if distort is not None:
    angle, shear, factor = distort
    h, w = big.shape
    pad = int(np.ceil(0.3 * max(h, w)))
    big = np.pad(big, pad)
    c, s = np.cos(angle), np.sin(angle)
    forward = np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [shear, 1.0]]) * factor  # (row, col) coordinates
    matrix = np.linalg.inv(forward)  # affine_transform maps output coordinates to input ones
    centre = (np.array(big.shape, float) - 1) / 2
    big = affine_transform(big, matrix, offset=centre - matrix @ centre, order=1, mode="constant", cval=0.0)
    x0, y0 = x0 - pad, y0 - pad
  out = np.zeros((size, size), bool)
  h, w = big.shape
  on = big > DIGIT_THRESHOLD
  sy, sx = max(0, -y0), max(0, -x0)  # the part of the (possibly padded) frame inside the canvas
  ey, ex = min(h, size - y0), min(w, size - x0)
  if ey > sy and ex > sx:
    out[y0 + sy:y0 + ey, x0 + sx:x0 + ex] = on[sy:ey, sx:ex]
  return out


def check_digit_distort(distort) -> dict[str, float]:
  """``data.digit_distort``: None / {} (off) or a mapping of the largest rotation (degrees), shear and scale change."""
  if distort is None:
    return {}
  if not hasattr(distort, "items"):
    raise DataError(f"data.digit_distort: expected None or a mapping with keys {tuple(DIGIT_DISTORT_LIMITS)}, got {distort!r}")
  out = {}
  for key, value in dict(distort.items()).items():
    if key not in DIGIT_DISTORT_LIMITS:
      raise DataError(f"data.digit_distort: unknown key {key!r}, expected some of {tuple(DIGIT_DISTORT_LIMITS)}")
    limit = DIGIT_DISTORT_LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= limit:
      raise DataError(f"data.digit_distort.{key}: expected a number in [0, {limit}], got {value!r}")
    out[key] = float(value)
  return out if any(out.values()) else {}


def _draw_distortion(rng: np.random.Generator, distort: dict[str, float]) -> tuple[float, float, float]:
  """One random (angle_rad, shear, zoom), each uniform within ``distort``'s magnitudes (always three draws)."""
  angle, shear, factor = rng.uniform(-1.0, 1.0, 3)
  return (float(np.deg2rad(angle * distort.get("rotate_deg", 0.0))), float(shear * distort.get("shear", 0.0)),
          float(1.0 + factor * distort.get("scale", 0.0)))


def _digit_pool(split: str) -> tuple[np.ndarray, np.ndarray]:
  """The scikit-learn digits of ``split`` (the stratified split of :mod:`cs231n_jax.data.digits`)."""
  from cs231n_jax.data import digits as digits_data

  images, labels = digits_data.raw_digits()
  train, val, test = digits_data.split_indices()
  idx = {"train": train, "val": val, "test": test}[split]
  return images[idx], labels[idx]


def check_detection_args(size: int, max_objects: int, classes: str, min_objects: int = 1) -> None:
  if isinstance(size, bool) or not isinstance(size, int) or not MIN_CANVAS <= size <= MAX_CANVAS:
    raise DataError(f"data.image_size: expected an integer canvas side in [{MIN_CANVAS}, {MAX_CANVAS}], got {size!r}")
  if isinstance(max_objects, bool) or not isinstance(max_objects, int) or not 1 <= max_objects <= MAX_OBJECTS:
    raise DataError(f"data.max_objects: expected an integer in [1, {MAX_OBJECTS}], got {max_objects!r}")
  if isinstance(min_objects, bool) or not isinstance(min_objects, int) or not 1 <= min_objects <= max_objects:
    raise DataError(f"data.min_objects: expected an integer in [1, max_objects={max_objects}], got {min_objects!r}")
  if classes not in CLASS_SETS:
    raise DataError(f"data.classes: expected one of {tuple(CLASS_SETS)}, got {classes!r}")


def detection_scenes(num_scenes: int, seed: int, size: int = 64, max_objects: int = MAX_OBJECTS, classes: str = "all",
                     split: str = "train", min_objects: int = 1, noise_std: float = NOISE_STD,
                     min_visible: float = 0.5, digit_distort=None) -> DetectionScenes:
  """``num_scenes`` detection scenes of one split, reproducible from ``seed``.

  ``classes``: "shapes" (3 classes), "digits" (10) or "all" (13, shapes first). The digits pasted
  come from ``split``'s part of scikit-learn's digits. ``digit_distort`` (off by default; see
  :func:`check_digit_distort`) warps every pasted digit of the TRAIN split by a random rotation, shear and
  scale drawn from a separate stream of ``seed`` (val / test scenes never change): data augmentation for the
  few training writers.
  """
  check_detection_args(size, max_objects, classes, min_objects)
  distort = check_digit_distort(digit_distort)  # checked for every split, applied to the train split only
  if split != "train":
    distort = {}
  if num_scenes < 1:
    raise DataError(f"scenes: expected a positive number of scenes, got {num_scenes}")
  if split not in SPLIT_OFFSETS:
    raise DataError(f"scenes: split must be one of {tuple(SPLIT_OFFSETS)}, got {split!r}")
  names = CLASS_SETS[classes]
  digit_images, digit_labels = _digit_pool(split) if classes != "shapes" else (None, None)
  digit_by_class = {} if digit_images is None else {d: digit_images[digit_labels == d] for d in range(10)}
  rng = np.random.default_rng([seed, SPLIT_OFFSETS[split]])
  distort_rng = np.random.default_rng([seed, SPLIT_OFFSETS[split], DISTORT_STREAM]) if distort else None
  colors = np.asarray(list(COLORS.values()), np.float32)
  n, m = num_scenes, max_objects
  images = np.empty((n, size, size, 3), np.float32)
  boxes = np.zeros((n, m, 4), np.float32)
  labels = np.full((n, m), -1, np.int32)
  valid = np.zeros((n, m), bool)
  masks = np.zeros((n, m, size, size), bool)
  semantic = np.zeros((n, size, size), np.int32)
  for i in range(n):
    count = int(rng.integers(min_objects, max_objects + 1))
    image = np.full((size, size, 3), BACKGROUND, np.float32)
    owner = np.full((size, size), -1, np.int32)  # which object a pixel shows
    full_area: list[int] = []
    kinds: list[int] = []
    for k in range(count):
      for _ in range(50):  # redraw a placement that hides an earlier object too much
        cls = int(rng.integers(len(names)))
        name = names[cls]
        if name in DETECTION_SHAPES:
          radius = rng.uniform(*SHAPE_RADII) * size
          cx, cy = rng.uniform(radius + 1, size - radius - 1, 2)
          pix = _shape_pixels(name, float(cx), float(cy), float(radius), size)
        else:
          pool = digit_by_class[int(name)]
          digit = pool[rng.integers(len(pool))]
          scale = DIGIT_SCALES[rng.integers(len(DIGIT_SCALES))] * size / 64.0
          side = int(np.ceil(8 * scale))
          x0, y0 = rng.integers(0, size - side + 1, 2)
          warp = _draw_distortion(distort_rng, distort) if distort_rng is not None else None
          pix = _digit_pixels(digit, scale, int(x0), int(y0), size, warp)
        if pix.sum() < 12:
          continue
        new_owner = np.where(pix, k, owner)
        if all((new_owner == j).sum() >= min_visible * full_area[j] for j in range(k)):
          break
      else:  # no placement kept every earlier object visible enough: stop adding objects
        break
      owner = new_owner
      full_area.append(int(pix.sum()))
      kinds.append(cls)
      image[pix] = colors[rng.integers(len(colors))]
    if noise_std > 0:
      image = image + rng.normal(0.0, noise_std, image.shape).astype(np.float32)
    images[i] = np.clip(image, 0.0, 1.0)
    for j, cls in enumerate(kinds):
      vis = owner == j
      masks[i, j] = vis
      boxes[i, j] = mask_box(vis)
      labels[i, j] = cls
      valid[i, j] = True
      semantic[i][vis] = cls + 1
  return DetectionScenes(images, boxes, labels, valid, masks, semantic, names)


def load_detection_scenes(num_train: int, num_val: int, num_test: int, seed: int = 0, size: int = 64,
                          max_objects: int = MAX_OBJECTS, classes: str = "all", min_objects: int = 1,
                          noise_std: float = NOISE_STD, digit_distort=None) -> dict[str, DetectionScenes]:
  """The train / val / test splits (``{"train", "val", "test"}``), each deterministic from ``seed``.

  ``digit_distort`` distorts the train split's digits only (:func:`detection_scenes`).
  """
  counts = {"train": num_train, "val": num_val, "test": num_test}
  return {name: detection_scenes(counts[name], seed, size, max_objects, classes, name, min_objects, noise_std,
                                 digit_distort=digit_distort)
          for name in counts}
