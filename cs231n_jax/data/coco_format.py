"""COCO-format annotations: read, validate and write the JSON, and load a COCO-format image directory.

The layout is COCO's own (``instances_*.json``)::

    {"images": [{"id", "file_name", "width", "height"}, ...],
     "annotations": [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "area", "iscrowd",
                      "segmentation": RLE {"size": [h, w], "counts": str | [int]} or polygons [[x0, y0, x1, y1, ...]]}, ...],
     "categories": [{"id", "name"}, ...]}

Boxes are ``[x, y, width, height]`` in pixel-edge coordinates (COCO's); in arrays the project uses
``(x0, y0, x1, y1)``. Masks are encoded with ``pycocotools.mask`` (compressed RLE) and decoded from
RLE or polygons. Every malformed input — a missing field, a box outside its image or with zero
area, an unknown category or image id — raises :class:`~cs231n_jax.errors.DataError` with one line
naming the annotation and the problem. Penn-Fudan and VOC layouts convert to this format with a few
lines (one annotation per instance mask / box), after which :func:`load_coco_directory` reads them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Sequence

import numpy as np
from etils import epath

from cs231n_jax.errors import DataError

BOX_TOLERANCE = 0.5  # pixels a box may reach past its image (rounding in other tools' exports)
IMAGE_FIELDS = ("id", "file_name", "width", "height")
ANNOTATION_FIELDS = ("id", "image_id", "category_id", "bbox")


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
  """A boolean (H, W) mask as COCO's compressed RLE, JSON-ready (``counts`` a str)."""
  from pycocotools import mask as mask_utils

  rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
  return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_segmentation(segmentation: Any, height: int, width: int, where: str = "segmentation") -> np.ndarray:
  """(H, W) bool from an RLE (compressed or not) or a list of polygons."""
  from pycocotools import mask as mask_utils

  if isinstance(segmentation, list):
    if not segmentation or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation):
      raise DataError(f"{where}: expected polygons as lists of at least 3 (x, y) pairs")
    rles = mask_utils.frPyObjects(segmentation, height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)
  if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
    if list(segmentation["size"]) != [height, width]:
      raise DataError(f"{where}: RLE size {segmentation['size']} differs from the image's [{height}, {width}]")
    counts = segmentation["counts"]
    if isinstance(counts, list):
      rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
      rle = {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(rle).astype(bool)
  raise DataError(f"{where}: expected an RLE dict with 'size' and 'counts' or a list of polygons, got {type(segmentation).__name__}")


def mask_polygons(mask: np.ndarray) -> list[list[float]]:
  """Polygons (COCO's flat ``[x0, y0, x1, y1, ...]``) tracing a mask's regions, from scikit-image."""
  from skimage import measure

  padded = np.pad(mask.astype(np.uint8), 1)
  out = []
  for contour in measure.find_contours(padded, 0.5):
    if len(contour) >= 3:
      xy = contour[:, ::-1] - 1 + 0.5  # (row, col) -> (x, y), undo the padding, pixel centres -> edges
      out.append([float(v) for v in xy.reshape(-1)])
  return out


@dataclasses.dataclass(frozen=True)
class CocoAnnotations:
  """Validated COCO annotations: the raw dict and lookups."""

  data: dict[str, Any]
  images: dict[int, dict[str, Any]]
  categories: dict[int, str]
  by_image: dict[int, list[dict[str, Any]]]

  @property
  def category_ids(self) -> list[int]:
    return sorted(self.categories)


def _require(obj: Any, fields: Sequence[str], where: str) -> None:
  if not isinstance(obj, dict):
    raise DataError(f"{where}: expected an object, got {type(obj).__name__}")
  for f in fields:
    if f not in obj:
      raise DataError(f"{where}: missing field {f!r}")


def validate(data: Any, source: str = "annotations") -> CocoAnnotations:
  """Check a COCO dict and index it; a malformed entry raises a one-line ``DataError``."""
  _require(data, ("images", "annotations", "categories"), source)
  categories: dict[int, str] = {}
  for i, c in enumerate(data["categories"]):
    _require(c, ("id", "name"), f"{source}: categories[{i}]")
    categories[int(c["id"])] = str(c["name"])
  images: dict[int, dict[str, Any]] = {}
  for i, im in enumerate(data["images"]):
    _require(im, IMAGE_FIELDS, f"{source}: images[{i}]")
    if int(im["width"]) < 1 or int(im["height"]) < 1:
      raise DataError(f"{source}: images[{i}] (id {im['id']}): width and height must be positive, got {im['width']}x{im['height']}")
    images[int(im["id"])] = im
  by_image: dict[int, list[dict[str, Any]]] = {k: [] for k in images}
  for i, a in enumerate(data["annotations"]):
    where = f"{source}: annotations[{i}] (id {a.get('id', '?') if isinstance(a, dict) else '?'})"
    _require(a, ANNOTATION_FIELDS, where)
    if int(a["image_id"]) not in images:
      raise DataError(f"{where}: unknown image_id {a['image_id']}")
    if int(a["category_id"]) not in categories:
      raise DataError(f"{where}: unknown category_id {a['category_id']}; known ids {sorted(categories)}")
    bbox = a["bbox"]
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
      raise DataError(f"{where}: bbox must be [x, y, width, height], got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    im = images[int(a["image_id"])]
    if w <= 0 or h <= 0:
      raise DataError(f"{where}: zero-area box {bbox} (width and height must be positive)")
    if x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > im["width"] + BOX_TOLERANCE or y + h > im["height"] + BOX_TOLERANCE:
      raise DataError(f"{where}: box {bbox} lies outside its {im['width']}x{im['height']} image")
    by_image[int(a["image_id"])].append(a)
  return CocoAnnotations(data, images, categories, by_image)


def read_annotations(path: str | epath.PathLike) -> CocoAnnotations:
  """Read and validate a COCO JSON file."""
  path = epath.Path(path)
  if not path.exists():
    raise DataError(f"{path}: no such annotation file")
  try:
    data = json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
  return validate(data, str(path))


def write_annotations(path: str | epath.PathLike, data: Mapping[str, Any]) -> None:
  validate(dict(data), str(path))
  epath.Path(path).write_text(json.dumps(data))


def scenes_to_coco(boxes: np.ndarray, labels: np.ndarray, valid: np.ndarray, class_names: Sequence[str],
                   image_size: tuple[int, int], masks: np.ndarray | None = None, file_names: Sequence[str] | None = None,
                   segmentation: str = "rle") -> dict[str, Any]:
  """A COCO dict from padded arrays (boxes ``(x0, y0, x1, y1)``); category ids are class index + 1,
  image ids 1..N; masks as ``"rle"`` or ``"polygon"``."""
  if segmentation not in ("rle", "polygon"):
    raise DataError(f"segmentation: expected 'rle' or 'polygon', got {segmentation!r}")
  h, w = image_size
  n = len(boxes)
  names = file_names or [f"{i:06d}.png" for i in range(n)]
  images = [{"id": i + 1, "file_name": names[i], "width": int(w), "height": int(h)} for i in range(n)]
  anns = []
  for i in range(n):
    for j in np.nonzero(valid[i])[0]:
      x0, y0, x1, y1 = (float(v) for v in boxes[i, j])
      ann = {"id": len(anns) + 1, "image_id": i + 1, "category_id": int(labels[i, j]) + 1,
             "bbox": [x0, y0, x1 - x0, y1 - y0], "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0}
      if masks is not None:
        m = masks[i, j]
        ann["segmentation"] = encode_mask(m) if segmentation == "rle" else mask_polygons(m)
        ann["area"] = float(m.sum())
      anns.append(ann)
  cats = [{"id": k + 1, "name": str(name)} for k, name in enumerate(class_names)]
  return {"images": images, "annotations": anns, "categories": cats}


def write_coco_directory(directory: str | epath.PathLike, images: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                         valid: np.ndarray, class_names: Sequence[str], masks: np.ndarray | None = None,
                         segmentation: str = "rle", annotation_file: str = "annotations.json") -> epath.Path:
  """Images (N, H, W, 3) in [0, 1] as PNGs plus their COCO JSON in ``directory``."""
  from PIL import Image

  directory = epath.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  names = [f"{i:06d}.png" for i in range(len(images))]
  for name, image in zip(names, images):
    with (directory / name).open("wb") as f:
      Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(f, format="PNG")
  data = scenes_to_coco(boxes, labels, valid, class_names, images.shape[1:3], masks, names, segmentation)
  write_annotations(directory / annotation_file, data)
  return directory / annotation_file


@dataclasses.dataclass(frozen=True)
class CocoImages:
  """A COCO-format directory as padded arrays (the layout of :class:`cs231n_jax.data.scenes.DetectionScenes`):
  ``truncated`` counts the annotations dropped because an image had more than ``max_objects``."""

  images: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray
  valid: np.ndarray
  masks: np.ndarray | None
  semantic: np.ndarray | None
  class_names: tuple[str, ...]
  category_ids: tuple[int, ...]
  image_ids: tuple[int, ...]
  truncated: int = 0

  def __len__(self) -> int:
    return len(self.images)


def load_coco_directory(directory: str | epath.PathLike, annotation_file: str = "annotations.json", max_objects: int = 6,
                        size: int | None = None, with_masks: bool = True, truncate: bool = False) -> CocoImages:
  """Read a COCO-format directory (images next to, or named relative to, the annotation file).

  Images are resized to ``size`` x ``size`` (boxes and masks scaled with them) when given, else
  must all share one size. Category ids map to class indices in sorted id order. An image with more
  than ``max_objects`` annotations raises a ``DataError`` unless ``truncate`` (then the largest
  ``max_objects`` are kept and the rest counted in ``truncated``).
  """
  from PIL import Image

  directory = epath.Path(directory)
  coco = read_annotations(directory / annotation_file)
  cat_ids = coco.category_ids
  cat_index = {c: k for k, c in enumerate(cat_ids)}
  ids = sorted(coco.images)
  if not ids:
    raise DataError(f"{directory / annotation_file}: no images")
  n = len(ids)
  shapes = {(int(coco.images[i]["height"]), int(coco.images[i]["width"])) for i in ids}
  if size is None and len(shapes) != 1:
    raise DataError(f"{directory}: images of different sizes {sorted(shapes)[:3]}...; pass size= to resize them")
  out_h, out_w = (size, size) if size is not None else next(iter(shapes))
  images = np.zeros((n, out_h, out_w, 3), np.float32)
  boxes = np.zeros((n, max_objects, 4), np.float32)
  labels = np.full((n, max_objects), -1, np.int32)
  valid = np.zeros((n, max_objects), bool)
  masks = np.zeros((n, max_objects, out_h, out_w), bool) if with_masks else None
  semantic = np.zeros((n, out_h, out_w), np.int32) if with_masks else None
  truncated = 0
  for row, image_id in enumerate(ids):
    meta = coco.images[image_id]
    h, w = int(meta["height"]), int(meta["width"])
    path = directory / meta["file_name"]
    if not path.exists():
      raise DataError(f"{path}: image file named by image id {image_id} is missing")
    with path.open("rb") as f:
      pil = Image.open(f).convert("RGB")
      if pil.size != (w, h):
        raise DataError(f"{path}: the file is {pil.size[0]}x{pil.size[1]} but the annotations say {w}x{h}")
      if (h, w) != (out_h, out_w):
        pil = pil.resize((out_w, out_h), Image.BILINEAR)
      images[row] = np.asarray(pil, np.float32) / 255.0
    anns = coco.by_image[image_id]
    if len(anns) > max_objects:
      if not truncate:
        raise DataError(f"{path}: {len(anns)} objects, more than max_objects={max_objects} (raise it or pass truncate=True)")
      truncated += len(anns) - max_objects
      anns = sorted(anns, key=lambda a: -a["bbox"][2] * a["bbox"][3])[:max_objects]
    sx, sy = out_w / w, out_h / h
    for j, a in enumerate(anns):
      x, y, bw, bh = (float(v) for v in a["bbox"])
      boxes[row, j] = [max(x, 0) * sx, max(y, 0) * sy, min(x + bw, w) * sx, min(y + bh, h) * sy]
      labels[row, j] = cat_index[int(a["category_id"])]
      valid[row, j] = True
      if with_masks:
        if "segmentation" in a:
          m = decode_segmentation(a["segmentation"], h, w, f"annotation {a['id']}: segmentation")
          if (h, w) != (out_h, out_w):
            m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((out_w, out_h), Image.NEAREST)) > 127
        else:  # a box-only annotation: its box as the mask
          m = np.zeros((out_h, out_w), bool)
          x0, y0, x1, y1 = np.round(boxes[row, j]).astype(int)
          m[y0:y1, x0:x1] = True
        masks[row, j] = m
        semantic[row][m] = labels[row, j] + 1
  names = tuple(coco.categories[c] for c in cat_ids)
  return CocoImages(images, boxes, labels, valid, masks, semantic, names, tuple(cat_ids), tuple(ids), truncated)
