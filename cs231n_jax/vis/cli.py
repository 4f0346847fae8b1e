"""``cs231n-jax vis TECHNIQUE --image IMAGE --model NAME --out DIR``: one PNG per technique.

    cs231n-jax vis saliency --image skimage:chelsea --model efficientnet_lite0 --out /tmp/vis
    cs231n-jax vis all --image skimage:coffee --out /tmp/vis --target "Egyptian cat"

TECHNIQUE is a name of :data:`TECHNIQUES` or ``all``. ``--target`` is an ImageNet class (index or name;
default: the network's top-1 for the image) for the attribution maps, and the target class of the
attacks and of class visualization. ``--layer`` names the layer of ``activations`` (default: the first
block). Each technique writes ``<out>/<technique>.png`` and prints one line. Bad input (an image that is
not RGB or too small, an unknown model, technique, class or layer) is one line on stderr, exit status 2.

The table is open: ``TECHNIQUES[name] = Technique(function, help)`` adds one (``function(ctx) -> image``
returns an HxWx3 or HxW array in [0, 1]).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cs231n_jax.command_line import EXIT_USAGE, PROG, Parser
from cs231n_jax.errors import ConfigError, Cs231nError


@dataclasses.dataclass
class Context:
  """What a technique gets: the loaded network, the image in [0, 1] (224x224x3), the class, options."""

  net: Any
  image: np.ndarray
  target: int
  layer: str
  steps: int
  seed: int

  def logits_fn(self, model=None) -> Callable:
    import jax  # noqa: F401

    from cs231n_jax.pretrained import networks

    model = model or self.net.model
    variables = self.net.variables
    return lambda x: model.apply(variables, networks.preprocess(self.net.name, x), train=False)


@dataclasses.dataclass(frozen=True)
class Technique:
  function: Callable[[Context], np.ndarray]
  help: str


def _heat_overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
  import matplotlib

  heat = np.asarray(heat, np.float64)
  heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
  colored = matplotlib.colormaps["inferno"](heat)[..., :3]
  return np.concatenate([image, colored, 0.5 * image + 0.5 * colored], axis=1)


def _attribution(method: str):
  def run(ctx: Context) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    from cs231n_jax.vis import saliency

    guided = ctx.logits_fn(ctx.net.model.clone(relu6=saliency.guided_relu6))
    fn = jax.jit(lambda x: saliency.attribute(method, ctx.logits_fn(), x, jnp.array([ctx.target]),
                                              key=jax.random.PRNGKey(ctx.seed), guided_logits_fn=guided))
    attr = np.asarray(fn(jnp.asarray(ctx.image[None])))
    return _heat_overlay(ctx.image, np.asarray(saliency.saliency_map(attr))[0])

  return run


def _occlusion(ctx: Context) -> np.ndarray:
  import jax
  import jax.numpy as jnp

  from cs231n_jax.vis import occlusion

  prob = jax.jit(lambda x: jax.nn.softmax(ctx.logits_fn()(x)))
  patch, stride = 48, 16
  heat = occlusion.occlusion_map(prob, jnp.asarray(ctx.image), ctx.target, patch, stride, fill=0.5, batch_size=32)
  return _heat_overlay(ctx.image, np.asarray(occlusion.upsample_to_pixels(heat, ctx.image.shape[:2], patch, stride)))


def _attack(kind: str):
  def run(ctx: Context) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    from cs231n_jax.vis import adversarial

    x, t = jnp.asarray(ctx.image[None]), jnp.array([ctx.target])
    if kind == "fooling":
      adv, ok = jax.jit(lambda z: adversarial.fool(ctx.logits_fn(), z, t, lr=0.5 / 255 * 224, steps=ctx.steps))(x)
    else:
      adv, ok = jax.jit(lambda z: adversarial.pgd(ctx.logits_fn(), z, t, 2 / 255, 0.25 / 255, ctx.steps, targeted=True,
                                                  stop_on_success=True))(x)
    adv = np.asarray(adv)[0]
    diff = adv - ctx.image
    scaled = 0.5 + diff / max(float(np.abs(diff).max()), 1e-12) / 2
    print(f"  {kind}: {'fooled' if bool(ok[0]) else 'NOT fooled'}; L-inf {np.abs(diff).max() * 255:.2f}/255")
    return np.concatenate([ctx.image, scaled, adv], axis=1)

  return run


def _class_visualization(ctx: Context) -> np.ndarray:
  import jax
  import jax.numpy as jnp

  from cs231n_jax.vis import class_visualization as cv

  config = cv.ClassVisConfig(steps=ctx.steps, learning_rate=0.01, l2_reg=1e-4, blur_every=10, blur_sigma=0.5, jitter=8)
  init = jnp.full((1, *ctx.image.shape), 0.5, jnp.float32)
  images, _ = jax.jit(lambda t: cv.visualize_class(ctx.logits_fn(), t, ctx.image.shape, config,
                                                   jax.random.PRNGKey(ctx.seed), init=init))(jnp.array([ctx.target]))
  return np.asarray(images)[0]


def _filters(ctx: Context) -> np.ndarray:
  from cs231n_jax.vis import features

  params = ctx.net.variables["params"]
  kernel = params["conv_stem"]["kernel"] if "conv_stem" in params else params["stem_conv"]["kernel"]
  return np.kron(features.first_layer_filters(np.asarray(kernel), cols=8), np.ones((8, 8, 1)))


def _activations(ctx: Context) -> np.ndarray:
  import jax.numpy as jnp

  from cs231n_jax.pretrained import networks
  from cs231n_jax.vis import features

  x = networks.preprocess(ctx.net.name, jnp.asarray(ctx.image[None]))
  layer = ctx.layer or ("blocks_1" if ctx.net.name == "efficientnet_lite0" else "block_2")
  acts = np.asarray(features.layer_output(ctx.net.model, ctx.net.variables, x, layer))
  if acts.ndim != 4:
    raise ConfigError(f"layer: {layer} outputs shape {acts.shape}; expected a convolutional (N, H, W, C) layer")
  return features.activation_maps(acts[0])[..., 0]


TECHNIQUES: dict[str, Technique] = {
    "saliency": Technique(_attribution("vanilla"), "|d score / d pixel|, max over channels"),
    "guided_backprop": Technique(_attribution("guided"), "guided backpropagation (custom_vjp ReLU6)"),
    "smoothgrad": Technique(_attribution("smoothgrad"), "SmoothGrad (25 noisy copies)"),
    "integrated_gradients": Technique(_attribution("integrated_gradients"), "integrated gradients from black"),
    "occlusion": Technique(_occlusion, "probability drop under a sliding grey 48x48 square"),
    "fooling": Technique(_attack("fooling"), "the lecture's fooling image: ascend the target's score until fooled"),
    "adversarial": Technique(_attack("pgd"), "targeted L-inf PGD within 2/255"),
    "class_visualization": Technique(_class_visualization, "gradient ascent on the target class score"),
    "filters": Technique(_filters, "the first layer's filters"),
    "activations": Technique(_activations, "one layer's activation maps (--layer)"),
}


def build_parser() -> Parser:
  p = Parser(prog=f"{PROG} vis", description="Visualizations of a pretrained network as PNGs.")
  p.add_argument("technique", help=f"one of {sorted(TECHNIQUES)} or 'all'")
  p.add_argument("--image", default="skimage:chelsea", help="an image path or skimage:<name>")
  p.add_argument("--model", default="efficientnet_lite0", help="a pretrained network (efficientnet_lite0, mobilenet_v2)")
  p.add_argument("--out", required=True, help="the directory the PNGs go to")
  p.add_argument("--target", default="", help="an ImageNet class index or name (default: the top-1 prediction)")
  p.add_argument("--layer", default="", help="the layer of 'activations' (e.g. blocks_3, block_5)")
  p.add_argument("--steps", type=int, default=100, help="iterations of the optimisation techniques")
  p.add_argument("--seed", type=int, default=0)
  return p


def save_png(path: Path, image: np.ndarray) -> None:
  import matplotlib.pyplot as plt

  image = np.clip(np.asarray(image, np.float64), 0.0, 1.0)
  plt.imsave(path, image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)


def main(argv: Sequence[str]) -> int:
  """Write the PNGs; 0, or 2 after one line on stderr for bad input."""
  try:
    args = build_parser().parse_args(list(argv))
    names = sorted(TECHNIQUES) if args.technique == "all" else [args.technique]
    if args.technique != "all" and args.technique not in TECHNIQUES:
      raise ConfigError(f"technique: unknown {args.technique!r}; expected one of {sorted(TECHNIQUES)} or 'all'")
    if args.steps < 1:
      raise ConfigError(f"--steps: expected a positive count, got {args.steps}")
    import jax

    from cs231n_jax.pretrained import networks

    networks.check_name(args.model)
    image = networks.read_image(args.image)
    if args.target:
      target = networks.class_index(args.target)
    net = networks.load(args.model)
    if not args.target:
      target = int(np.argmax(np.asarray(jax.jit(net.logits)(image[None]))[0]))
    ctx = Context(net, image, target, args.layer, args.steps, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
      picture = TECHNIQUES[name].function(ctx)
      save_png(out / f"{name}.png", picture)
      print(f"{name}: {out / f'{name}.png'} (class {target} {networks.CLASSES[target]})")
  except (Cs231nError, ValueError) as e:
    print(f"{PROG} vis: error: {e}", file=sys.stderr)
    return EXIT_USAGE
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
