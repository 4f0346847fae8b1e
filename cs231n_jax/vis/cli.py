"""``cs231n-jax vis TECHNIQUE --image IMAGE --model NAME --out DIR``: one PNG per technique.

    cs231n-jax vis saliency --image skimage:chelsea --model efficientnet_lite0 --out /tmp/vis
    cs231n-jax vis all --image skimage:coffee --out /tmp/vis --target "Egyptian cat"
    cs231n-jax vis style --image skimage:astronaut --style skimage:immunohistochemistry --model mobilenet_v2 --out /tmp/vis
    cs231n-jax vis texture --texture gravel --model mobilenet_v2 --out /tmp/vis --size 64

TECHNIQUE is a name of :data:`TECHNIQUES` or ``all``. ``--target`` is an ImageNet class (index or name;
default: the network's top-1 for the image) for the attribution maps, and the target class of the
attacks and of class visualization. ``--layer`` names the layer of ``activations`` (default: the first
block). Lecture 13's image optimisations -- ``deepdream``, ``inversion``, ``texture`` (Gram matrices),
``texture_nn`` (nearest neighbour), ``style`` -- work at ``--size`` pixels on the layers of
:data:`LAYERS` (``--layer`` overrides DeepDream's, inversion's, or style's content layer). Each
technique writes ``<out>/<technique>.png`` and prints one line. Bad input (an image that is not RGB
or too small, an unknown model, technique, class or layer, a bad ``--texture`` / ``--size`` /
``--style``) is one line on stderr, exit status 2.

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
  steps_given: bool = True
  style: str = "skimage:immunohistochemistry"
  texture: str = ""
  size: int = 128

  def steps_or(self, default: int) -> int:
    """``--steps`` when given, else the technique's own default."""
    return self.steps if self.steps_given else default

  def at_size(self, image: np.ndarray | None = None) -> np.ndarray:
    """The image (default: ``--image``) resized to ``--size`` x ``--size``."""
    from skimage.transform import resize

    image = self.image if image is None else image
    return np.clip(resize(image, (self.size, self.size), anti_aliasing=True), 0, 1).astype(np.float32)

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


# ---------------------------------------------------------------------------------------------
# Lecture 13's image optimisations (V18-V28) on the pretrained network's features.

# The layers the measured runs use (docs/results.md), per network; EfficientNet-Lite0's 16 blocks
# (blocks_0 ... blocks_15) at about the same depths as MobileNetV2's 17 (block_1 ... block_17).
LAYERS = {
    "mobilenet_v2": {"content": "block_6", "style": ("block_1", "block_3", "block_6", "block_10"),
                     "deepdream": "block_10", "inversion": "block_6"},
    "efficientnet_lite0": {"content": "blocks_5", "style": ("blocks_0", "blocks_2", "blocks_5", "blocks_9"),
                           "deepdream": "blocks_9", "inversion": "blocks_5"},
}


def _features(ctx: Context, layers):
  from cs231n_jax.vis import style

  return style.pretrained_features(ctx.net.name, tuple(layers))


def _deepdream(ctx: Context) -> np.ndarray:
  import jax

  from cs231n_jax.vis import deepdream

  layer = ctx.layer or LAYERS[ctx.net.name]["deepdream"]
  features, params = _features(ctx, [layer])
  image = ctx.at_size()
  r = deepdream.deepdream(features, params, image, layer, num_steps=ctx.steps_or(20), octaves=2,
                          key=jax.random.PRNGKey(ctx.seed))
  print(f"  deepdream at {layer}: sum f^2 {r['energy_before']:.4g} -> {r['energy_after']:.4g} "
        f"({r['energy_after'] / r['energy_before']:.2f}x)")
  return np.concatenate([image, np.asarray(r["image"])], axis=1)


def _inversion(ctx: Context) -> np.ndarray:
  import jax

  from cs231n_jax.vis import inversion

  layer = ctx.layer or LAYERS[ctx.net.name]["inversion"]
  features, params = _features(ctx, [layer])
  image = ctx.at_size()
  r = inversion.invert(features, params, image, layer, tv_weight=1e-3, num_steps=ctx.steps_or(200),
                       learning_rate=0.02, schedule="cosine", key=jax.random.PRNGKey(ctx.seed))
  print(f"  inversion from {layer}: relative feature loss {r['initial_feature_loss']:.3g} -> {r['feature_loss']:.3g} "
        f"({r['reduction']:.1f}x)")
  return np.concatenate([image, np.asarray(r["image"])], axis=1)


def _texture_source(ctx: Context) -> np.ndarray:
  from cs231n_jax.vis import texture

  if not ctx.texture:
    return ctx.at_size()
  if ctx.texture in texture.TEXTURES:
    return texture.bundled_texture(ctx.texture, ctx.size)
  raise ConfigError(f"--texture: expected one of {texture.TEXTURES} (or empty for --image), got {ctx.texture!r}")


def _texture(ctx: Context) -> np.ndarray:
  import jax

  from cs231n_jax.vis import texture

  layers = {name: 1.0 for name in LAYERS[ctx.net.name]["style"]}
  features, params = _features(ctx, layers)
  source = _texture_source(ctx)
  r = texture.gram_texture(features, params, source, layers, source.shape[:2], num_steps=ctx.steps_or(200),
                           learning_rate=0.02, schedule="cosine", key=jax.random.PRNGKey(ctx.seed))
  print(f"  texture (Gram, {', '.join(layers)}): loss {r['initial_loss']:.3g} -> {r['loss']:.3g} "
        f"({r['initial_loss'] / r['loss']:.0f}x)")
  return np.concatenate([source, np.asarray(r["image"])], axis=1)


def _texture_nn(ctx: Context) -> np.ndarray:
  import jax
  import jax.numpy as jnp
  from skimage.transform import resize

  from cs231n_jax.vis import texture

  source = _texture_source(ctx)
  small = np.clip(resize(source, (24, 24), anti_aliasing=True), 0, 1).astype(np.float32)
  out, _ = texture.nearest_neighbour_texture(jnp.asarray(small), (48, 48), radius=2, key=jax.random.PRNGKey(ctx.seed))
  pixels = {tuple(p) for p in small.reshape(-1, 3)}
  copied = all(tuple(p) in pixels for p in np.asarray(out).reshape(-1, 3))
  print(f"  texture_nn: a 24x24 source grown to 48x48 (radius 2); every output pixel an input pixel: {copied}")
  left = np.ones((192, 96, 3), np.float32)
  left[:96] = np.kron(small, np.ones((4, 4, 1)))  # the source, 4x enlarged, above white
  return np.concatenate([left, np.ones((192, 4, 3)), np.kron(np.asarray(out), np.ones((4, 4, 1)))], axis=1)


def _style(ctx: Context) -> np.ndarray:
  from cs231n_jax.pretrained import networks
  from cs231n_jax.vis import style

  names = LAYERS[ctx.net.name]
  content_layers = {ctx.layer or names["content"]: 1.0}
  style_layers = {name: 1.0 for name in names["style"]}
  features, params = _features(ctx, sorted(set(content_layers) | set(style_layers)))
  content = ctx.at_size()
  style_image = ctx.at_size(networks.read_image(ctx.style))
  r = style.style_transfer(features, params, content, [style_image], content_layers=content_layers,
                           style_layers=style_layers, content_weight=1.0, style_weight=1e6,
                           num_steps=ctx.steps_or(150), learning_rate=0.02)
  print(f"  style: content loss {r['content_loss']:.4g}, style loss {r['style_loss']:.4g} "
        f"(style loss at the content image {r['initial_style_loss']:.4g})")
  return np.concatenate([content, style_image, np.asarray(r["image"])], axis=1)


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
    "deepdream": Technique(_deepdream, "the lecture's DeepDream at --layer (default block_10), 2 octaves"),
    "inversion": Technique(_inversion, "feature inversion with the TV prior from --layer (default block_6)"),
    "texture": Technique(_texture, "Gram-matrix texture synthesis of --texture (brick/grass/gravel) or the image"),
    "texture_nn": Technique(_texture_nn, "nearest-neighbour scanline texture synthesis (copies input pixels)"),
    "style": Technique(_style, "neural style transfer: the image in the style of --style"),
}


def build_parser() -> Parser:
  p = Parser(prog=f"{PROG} vis", description="Visualizations of a pretrained network as PNGs.")
  p.add_argument("technique", help=f"one of {sorted(TECHNIQUES)} or 'all'")
  p.add_argument("--image", default="skimage:chelsea", help="an image path or skimage:<name>")
  p.add_argument("--model", default="efficientnet_lite0", help="a pretrained network (efficientnet_lite0, mobilenet_v2)")
  p.add_argument("--out", required=True, help="the directory the PNGs go to")
  p.add_argument("--target", default="", help="an ImageNet class index or name (default: the top-1 prediction)")
  p.add_argument("--layer", default="", help="the layer of 'activations' (e.g. blocks_3, block_5), of 'deepdream' and "
                                             "'inversion', the content layer of 'style' (default: LAYERS)")
  p.add_argument("--steps", type=int, default=None,
                 help="iterations of the optimisation techniques (default: 100; deepdream 20 per octave, "
                      "inversion / texture 200, style 150)")
  p.add_argument("--style", default="skimage:immunohistochemistry", help="the style image of 'style' (path or skimage:<name>)")
  p.add_argument("--texture", default="", help="'texture' / 'texture_nn' source: brick, grass, gravel (default: --image)")
  p.add_argument("--size", type=int, default=128, help="side in pixels of the images 'style', 'deepdream', 'inversion', "
                                                        "'texture' optimise (the image is resized)")
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
    if args.steps is not None and args.steps < 1:
      raise ConfigError(f"--steps: expected a positive count, got {args.steps}")
    if args.size < 32:
      raise ConfigError(f"--size: expected at least 32 pixels, got {args.size}")
    from cs231n_jax.pretrained import networks
    from cs231n_jax.vis import texture

    if args.technique in ("style", "all"):
      networks.read_image(args.style)  # a bad --style is named before anything runs
    if args.texture and args.texture not in texture.TEXTURES:
      raise ConfigError(f"--texture: expected one of {texture.TEXTURES} (or empty for --image), got {args.texture!r}")
    import jax

    networks.check_name(args.model)
    image = networks.read_image(args.image)
    if args.target:
      target = networks.class_index(args.target)
    net = networks.load(args.model)
    if not args.target:
      target = int(np.argmax(np.asarray(jax.jit(net.logits)(image[None]))[0]))
    ctx = Context(net, image, target, args.layer, 100 if args.steps is None else args.steps, args.seed,
                  steps_given=args.steps is not None, style=args.style, texture=args.texture, size=args.size)
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
