"""How many images per second the input pipeline makes on the ImageNet path: JPEG records read from
TFDS ArrayRecord files, decoded, the shorter side resized to a random L in [256, 480], a random
224x224 crop, scaled, the mean image subtracted (``data.tfds_source`` through
``data.pipeline.BatchIterator``), with 0, 1, 2, ... grain worker processes.

No ImageNet here: ``make_synthetic_imagenet`` writes a TFDS data set in the real format (ArrayRecord
shards of serialized examples, images JPEG-encoded at ImageNet's sizes, 333-500 pixels a side) with
TFDS's own builder (no TensorFlow needed).

Command: python -m cs231n_jax.bench.input_pipeline --data_dir /tmp/synthetic_tfds --workers 0 1 2 --repeats 3
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Sequence

import numpy as np

NAME = "synthetic_imagenet"
SIDE_RANGE = (333, 501)  # ImageNet's usual image sides (most are 333-500 pixels)
JPEG_QUALITY = 90
NUM_CLASSES = 1000
_BUILDER = None


def synthetic_image(rng: np.random.Generator) -> np.ndarray:
  """A smooth colour pattern with noise (compresses about as a photo does), ImageNet-sized."""
  h, w = (int(rng.integers(*SIDE_RANGE)) for _ in range(2))
  y = np.linspace(0, 1, h)[:, None, None]
  x = np.linspace(0, 1, w)[None, :, None]
  phase = 2 * np.pi * (3 * rng.random(3) * x + 3 * rng.random(3) * y) + 6 * rng.random(3)
  return np.clip(127.5 + 127.5 * np.sin(phase) + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def builder_class():
  """The TFDS builder of the synthetic set (defined once: TFDS registers builders by class)."""
  global _BUILDER
  if _BUILDER is None:
    import tensorflow_datasets as tfds
    from PIL import Image

    class SyntheticImagenet(tfds.core.GeneratorBasedBuilder):
      VERSION = tfds.core.Version("1.0.0")
      num_train, num_validation = 384, 64

      def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES)}))

      def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(self.num_train, 0),
                "validation": self._generate_examples(self.num_validation, 1)}

      def _generate_examples(self, n, seed):
        rng = np.random.default_rng(seed)
        for i in range(n):
          buffer = io.BytesIO()
          Image.fromarray(synthetic_image(rng)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
          yield i, {"image": buffer.getvalue(), "label": int(rng.integers(NUM_CLASSES))}

    _BUILDER = SyntheticImagenet
  return _BUILDER


def make_synthetic_imagenet(data_dir: str, num_train: int = 384, num_validation: int = 64) -> None:
  """Write (once) ``data_dir/synthetic_imagenet/1.0.0``: ArrayRecord shards of JPEG examples."""
  cls = builder_class()
  cls.num_train, cls.num_validation = num_train, num_validation
  cls(data_dir=data_dir, file_format="array_record").download_and_prepare()


def measure(data_dir: str, workers: int, batch: int, batches: int, prefetch: int = 2, seed: int = 0) -> dict:
  """Images per second of ``batches`` training batches after the first (which pays for starting
  the workers, timed separately)."""
  from cs231n_jax.data.pipeline import BatchIterator
  from cs231n_jax.data.tfds_source import load_tfds

  ds = load_tfds(NAME, train_split="train", val_split="validation", test_split="validation", data_dir=data_dir,
                 image_size=224, train_scale_range=(256, 480))
  it = BatchIterator(ds.train, batch, ds.num_classes, seed=seed, image_shape=ds.image_shape, workers=workers,
                     prefetch=prefetch)
  t0 = time.perf_counter()
  first = next(it)
  t1 = time.perf_counter()
  for _ in range(batches):
    b = next(it)
  t2 = time.perf_counter()
  it.close()
  assert first["image"].shape == b["image"].shape == (batch, 224, 224, 3)
  return {"workers": workers, "batch": batch, "batches": batches, "first_batch_s": t1 - t0,
          "images_per_s": batches * batch / (t2 - t1)}


def main(argv: Sequence[str] | None = None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--data_dir", required=True)
  p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--batches", type=int, default=24)
  p.add_argument("--prefetch", type=int, default=2)
  p.add_argument("--repeats", type=int, default=3, help="rounds over all settings, interleaved")
  args = p.parse_args(argv)
  make_synthetic_imagenet(args.data_dir)
  measure(args.data_dir, 0, args.batch, 1)  # computes (and caches) the mean image outside the timings
  # (workers, prefetch); (0, 0) is the single-threaded reader the pipeline had before grain.
  settings = [(0, 0)] + [(w, args.prefetch) for w in args.workers]
  runs = {s: [] for s in settings}
  for _ in range(args.repeats):  # interleaved, so a change in the machine's load hits every setting
    for w, f in settings:
      runs[(w, f)].append(measure(args.data_dir, w, args.batch, args.batches, f))
  print(f"batch {args.batch}, {args.batches} batches timed after the first, {args.repeats} rounds")
  print("| workers | prefetch | first batch (s, median) | images/s (median) | images/s (min-max) |")
  print("|---|---|---|---|---|")
  for (w, f), rs in runs.items():
    ips = [r["images_per_s"] for r in rs]
    first = float(np.median([r["first_batch_s"] for r in rs]))
    print(f"| {w} | {f} | {first:.1f} | {np.median(ips):.0f} | {min(ips):.0f}-{max(ips):.0f} |", flush=True)


if __name__ == "__main__":
  main()
