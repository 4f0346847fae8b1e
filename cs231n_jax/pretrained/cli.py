"""``cs231n-jax classify IMAGE... [--model efficientnet_lite0|mobilenet_v2]``: the top-5 ImageNet labels.

    $ cs231n-jax classify skimage:chelsea skimage:coffee
    skimage:chelsea (efficientnet_lite0)
      0.790  285 Egyptian cat
      ...

An IMAGE is a path (any format scikit-image reads) or ``skimage:<name>`` (a bundled photo: chelsea,
coffee, astronaut, rocket, ...). The whole image is resized to 224x224 (``--crop``: shorter side 256,
central 224 crop). Bad input (not RGB, smaller than 32 pixels, an unknown model) is one line on stderr
and exit status 2.
"""

from __future__ import annotations

import sys
from typing import Sequence

from cs231n_jax.command_line import EXIT_USAGE, PROG, Parser
from cs231n_jax.errors import Cs231nError


def build_parser() -> Parser:
  from cs231n_jax.pretrained.networks import SOURCES

  p = Parser(prog=f"{PROG} classify", description="Top-5 ImageNet labels of images by a pretrained network (offline).")
  p.add_argument("images", nargs="+", metavar="IMAGE", help="an image path, or skimage:<name> (e.g. skimage:chelsea)")
  p.add_argument("--model", default="efficientnet_lite0", help=f"one of {sorted(SOURCES)}")
  p.add_argument("--top", type=int, default=5, help="how many labels to print (default 5)")
  p.add_argument("--crop", action="store_true", help="shorter side 256 + central 224 crop instead of resizing the whole image")
  p.add_argument("--cache-dir", help="keep the converted weights here as an orbax checkpoint (reused next time)")
  return p


def main(argv: Sequence[str]) -> int:
  """Classify; returns 0, or 2 after one line on stderr for bad input."""
  try:
    import jax
    import numpy as np

    from cs231n_jax.pretrained import networks

    args = build_parser().parse_args(list(argv))
    networks.check_name(args.model)
    if args.top < 1:
      raise ValueError(f"--top: expected a positive count, got {args.top}")
    images = [networks.read_image(spec, crop=args.crop) for spec in args.images]
    net = networks.load(args.model, args.cache_dir)
    probs = np.asarray(jax.jit(net.probabilities)(np.stack(images)))
  except (Cs231nError, ValueError) as e:
    print(f"{PROG} classify: error: {e}", file=sys.stderr)
    return EXIT_USAGE
  for spec, p in zip(args.images, probs):
    print(f"{spec} ({args.model})")
    for index, label, prob in networks.top_k(p, min(args.top, p.shape[0])):
      print(f"  {prob:.3f}  {index:3d} {label}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
