"""``cs231n-jax detect`` and ``cs231n-jax segment``: run a trained workdir on an image, write a PNG.

    cs231n-jax detect --workdir workdirs/det_single_shot --image scene.png --out boxes.png
    cs231n-jax segment --workdir workdirs/seg_unet --image scene.png --out labels.png

The workdir's ``config.json`` (written by ``cs231n-jax train``) rebuilds the model; its best
checkpointed parameters are restored. The image is resized to the model's input size. ``detect``
draws the detections scoring at least ``--min-score`` with their class names and scores and prints
one line per detection; ``segment`` writes the image beside its coloured label map and prints the
fraction of pixels of each class.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import numpy as np
from etils import epath

from cs231n_jax.errors import DataError

PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 190], [0, 128, 128],
                    [230, 190, 255], [170, 110, 40], [255, 250, 200]], np.uint8)


def _parser(prog: str, what: str) -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog=f"cs231n-jax {prog}", description=f"Run a trained {what}'s workdir on an image.")
  p.add_argument("--workdir", required=True, help="a workdir written by cs231n-jax train")
  p.add_argument("--image", required=True, help="an image file (PNG, JPEG, ...)")
  p.add_argument("--out", required=True, help="the PNG to write")
  return p


def restore(workdir: str, kind: str):
  """(config, model, params, class names, image size) of a trained workdir."""
  import ml_collections

  from cs231n_jax.train import loop

  path = epath.Path(workdir) / "config.json"
  if not path.exists():
    raise DataError(f"--workdir: {path} not found (expected a workdir written by cs231n-jax train)")
  config = ml_collections.ConfigDict(json.loads(path.read_text()))
  runner = config.get("runner", "")
  expected = {"detect": "cs231n_jax.tasks.detection:run", "segment": "cs231n_jax.tasks.segmentation:run"}[kind]
  if runner != expected:
    raise DataError(f"--workdir: its config's runner is {runner!r}; `cs231n-jax {kind}` needs {expected!r}")
  if config.data.name == "scenes":  # the data only give the checkpoint's template: one scene each
    config.data.update({"num_train": 1, "num_val": 1, "num_test": 1})
  if kind == "detect":
    from cs231n_jax.tasks import detection as T
  else:
    from cs231n_jax.tasks import segmentation as T
  task, data, model, names = T.build(config)
  state, _, _ = loop.restore_best(task, data, config, workdir)
  return config, model, state["task"]["params"], names, int(data.example["image"].shape[1])


def read_image(path: str, size: int) -> np.ndarray:
  from PIL import Image

  p = epath.Path(path)
  if not p.exists():
    raise DataError(f"--image: {path} not found")
  try:
    with p.open("rb") as f:
      image = Image.open(f).convert("RGB")
  except Exception as e:  # PIL raises several types for a file that is not an image
    raise DataError(f"--image: {path} is not a readable image ({type(e).__name__})") from None
  return np.asarray(image.resize((size, size), Image.BILINEAR), np.float32) / 255.0


def write_png(path: str, array: np.ndarray) -> None:
  from PIL import Image

  out = epath.Path(path)
  out.parent.mkdir(parents=True, exist_ok=True)
  with out.open("wb") as f:
    Image.fromarray(array).save(f, format="PNG")


def draw_detections(image: np.ndarray, boxes, scores, labels, names, scale: int = 4) -> np.ndarray:
  """The image enlarged ``scale`` times with each box outlined in its class colour and labelled."""
  from PIL import Image, ImageDraw

  big = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).resize(
      (image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
  draw = ImageDraw.Draw(big)
  for box, score, label in zip(boxes, scores, labels):
    colour = tuple(int(v) for v in PALETTE[1 + int(label) % (len(PALETTE) - 1)])
    x0, y0, x1, y1 = (float(v) * scale for v in box)
    # the outline's last pixel is x1 - 1; a box under one (enlarged) pixel wide is drawn as a line, not rejected by PIL
    draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=colour, width=2)
    draw.text((x0 + 2, y0 + 1), f"{names[int(label)]} {float(score):.2f}", fill=colour)
  return np.asarray(big)


def colour_labels(labels: np.ndarray) -> np.ndarray:
  return PALETTE[labels % len(PALETTE)]


def detect_main(argv: Sequence[str]) -> int:
  p = _parser("detect", "detector")
  p.add_argument("--min-score", type=float, default=0.3, help="draw detections scoring at least this (default 0.3)")
  args = p.parse_args(list(argv))
  import jax

  from cs231n_jax.tasks import detection as T

  config, model, params, names, size = restore(args.workdir, "detect")
  image = read_image(args.image, size)
  outputs = jax.jit(lambda p, x: T.detect(model, p, x, config, size))(params, image[None])
  boxes, scores, labels, valid = (np.asarray(a)[0] for a in outputs)
  keep = valid & (scores >= args.min_score)
  write_png(args.out, draw_detections(image, boxes[keep], scores[keep], labels[keep], names))
  for box, score, label in zip(boxes[keep], scores[keep], labels[keep]):
    print(f"{names[int(label)]} {float(score):.3f} box {' '.join(f'{float(v):.1f}' for v in box)}")
  print(f"{int(keep.sum())} detections -> {args.out}")
  return 0


def segment_main(argv: Sequence[str]) -> int:
  args = _parser("segment", "segmenter").parse_args(list(argv))
  import jax

  _, model, params, names, size = restore(args.workdir, "segment")
  image = read_image(args.image, size)
  logits = jax.jit(lambda p, x: model.apply({"params": p}, x))(params, image[None])
  labels = np.asarray(logits.argmax(-1))[0]
  side = np.concatenate([(np.clip(image, 0, 1) * 255).astype(np.uint8), colour_labels(labels)], 1)
  write_png(args.out, side)
  all_names = ("background", *names)
  for c in np.unique(labels):
    print(f"{all_names[c]} {float((labels == c).mean()):.3f}")
  print(f"label map -> {args.out}")
  return 0
