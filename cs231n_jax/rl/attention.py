"""The recurrent attention model (Mnih et al. 2014, lecture 14): a glimpse sensor, an LSTM core, a
Gaussian location policy trained with REINFORCE and a classifier trained by backpropagation.

The environment: an 8x8 digit pasted at a random place on a larger blank canvas
(:func:`paste`). The model sees the canvas only through ``num_glimpses`` glimpses: at a location
l in [-1, 1]^2 (row, column; -1 the top / left edge, +1 the bottom / right) the sensor
(:func:`glimpse`) cuts ``num_scales`` square patches centred there, of sides g, 2g, 4g ... (zero
outside the canvas), each averaged down to g x g. Per glimpse:

- glimpse network: g_t = relu(W_g relu(W_p patches) + W_l relu(W_q l_t)) (the paper's "what" and "where");
- core: h_t = LSTM(h_{t-1}, g_t), a ``lax.scan`` over the glimpses (``nn.scan``);
- location policy: l_{t+1} ~ N(tanh(W_μ h_t), σ² I), clipped to [-1, 1]; baseline b_t = W_b h_t
  (both read h_t with the gradient stopped, so only REINFORCE trains μ and only the squared error b);
- the class scores from the last h_T.

The first glimpse is at the canvas centre (or at random, ``locations="random"``). Training
(:func:`losses`): cross-entropy of the class scores (backprop through the glimpse network and the
core), plus REINFORCE for the locations with reward R = 1 for a correct final answer, 0 otherwise:
−Σ_t log π(l_{t+1} | h_t) (R − b_t), plus (R − b_t)². Evaluation uses the policy's mean locations.
With ``locations="random"`` every glimpse is at a uniformly random place (the baseline the
learned policy is measured against).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register

LOCATIONS = ("policy", "random")


def paste(digits: jax.Array, positions: jax.Array, canvas_size: int) -> jax.Array:
  """Digits [B, h, w] pasted with their top-left corners at ``positions`` [B, 2] (row, column) on
  blank ``canvas_size`` x ``canvas_size`` canvases: [B, canvas_size, canvas_size]."""
  h, w = digits.shape[1:]
  if canvas_size < max(h, w):
    raise ConfigError(f"data.canvas_size: expected at least the digit's size {max(h, w)}, got {canvas_size}")

  def one(d, p):
    return jax.lax.dynamic_update_slice(jnp.zeros((canvas_size, canvas_size), d.dtype), d, (p[0], p[1]))

  return jax.vmap(one)(digits, positions.astype(jnp.int32))


def random_positions(key: jax.Array, n: int, canvas_size: int, digit_size: int) -> jax.Array:
  """Uniform top-left corners of a ``digit_size`` square fully inside the canvas: [n, 2] int32."""
  return jax.random.randint(key, (n, 2), 0, canvas_size - digit_size + 1)


def patch_corner(loc: jax.Array, canvas_size: int, size: int) -> jax.Array:
  """The top-left pixel (row, column), on the canvas, of the ``size`` square centred at ``loc``:
  the centre is at ((l + 1) / 2) * canvas_size pixels from the top-left corner, rounded down."""
  centre = (loc + 1.0) / 2.0 * canvas_size
  return jnp.floor(centre - size / 2.0 + 0.5).astype(jnp.int32)


def glimpse(canvases: jax.Array, locs: jax.Array, size: int, num_scales: int) -> jax.Array:
  """The retina: for each canvas [B, H, W] and location [B, 2], ``num_scales`` patches of sides
  size * 2^k centred at the location (zeros outside the canvas), each averaged in 2^k x 2^k blocks
  to size x size: [B, num_scales, size, size]."""
  H = canvases.shape[1]
  pad = size * 2 ** (num_scales - 1)

  def one(canvas, loc):
    padded = jnp.pad(canvas, pad)
    out = []
    for k in range(num_scales):
      side = size * 2 ** k
      r, c = patch_corner(loc, H, side) + pad
      patch = jax.lax.dynamic_slice(padded, (r, c), (side, side))
      out.append(patch.reshape(size, 2 ** k, size, 2 ** k).mean((1, 3)))
    return jnp.stack(out)

  return jax.vmap(one)(canvases, locs)


def gaussian_log_prob(x: jax.Array, mean: jax.Array, std: float) -> jax.Array:
  """log N(x; mean, std² I) summed over the last axis."""
  z = (x - mean) / std
  return jnp.sum(-0.5 * z ** 2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi), -1)


class GlimpseStep(nn.Module):
  """One glimpse: sensor, glimpse network, LSTM core, location policy, baseline and class scores."""

  num_classes: int
  glimpse_size: int
  num_scales: int
  hidden: int
  glimpse_hidden: int
  location_std: float
  locations: str

  @nn.compact
  def __call__(self, carry, key):
    lstm, loc, canvases, mode = carry
    patches = glimpse(canvases, loc, self.glimpse_size, self.num_scales).reshape(canvases.shape[0], -1)
    what = nn.relu(nn.Dense(self.glimpse_hidden, name="patch")(patches))
    where = nn.relu(nn.Dense(self.glimpse_hidden, name="where")(loc))
    g = nn.relu(nn.Dense(self.hidden, name="glimpse_what")(what) + nn.Dense(self.hidden, name="glimpse_where")(where))
    lstm, h = nn.OptimizedLSTMCell(self.hidden, name="core")(lstm, g)
    mean = jnp.tanh(nn.Dense(2, name="location")(jax.lax.stop_gradient(h)))
    baseline = nn.Dense(1, name="baseline")(jax.lax.stop_gradient(h))[:, 0]
    logits = nn.Dense(self.num_classes, name="classifier")(h)
    if self.locations == "random":
      sample = jax.random.uniform(key, mean.shape, minval=-1.0, maxval=1.0)
    else:
      # mode 1: sample from the policy (training); mode 0: its mean (evaluation)
      sample = mean + mode * self.location_std * jax.random.normal(key, mean.shape)
    sample = jax.lax.stop_gradient(sample)
    logp = gaussian_log_prob(sample, mean, self.location_std)
    nxt = jnp.clip(sample, -1.0, 1.0)
    return (lstm, nxt, canvases, mode), {"location": loc, "logp": logp, "baseline": baseline, "logits": logits}


@register("recurrent_attention", "the recurrent attention model (Mnih et al. 2014): glimpses, LSTM core, "
          "Gaussian location policy, classifier", input_shape=None, family="policy")
class RecurrentAttention(nn.Module):
  """``(canvases [B, H, W], key, sample) -> dict`` of per-glimpse arrays [B, num_glimpses, ...]:
  ``location`` (where each glimpse was taken), ``logp`` (log π of the next location),
  ``baseline`` (b_t), ``logits`` (the class scores after each glimpse; the answer is the last)."""

  num_classes: int = 10
  glimpse_size: int = 8
  num_scales: int = 3
  num_glimpses: int = 4
  hidden: int = 256
  glimpse_hidden: int = 128
  location_std: float = 0.15
  locations: str = "policy"

  @nn.compact
  def __call__(self, canvases, key=None, sample: bool = False):
    if self.locations not in LOCATIONS:
      raise ConfigError(f"model.locations: expected one of {LOCATIONS}, got {self.locations!r}")
    key = jax.random.PRNGKey(0) if key is None else key
    k0, k_steps = jax.random.split(key)
    B = canvases.shape[0]
    canvases = canvases.reshape(B, canvases.shape[1], canvases.shape[2]).astype(jnp.float32)
    if self.locations == "random":
      loc0 = jax.random.uniform(k0, (B, 2), minval=-1.0, maxval=1.0)
    else:
      loc0 = jnp.zeros((B, 2))
    lstm = nn.OptimizedLSTMCell(self.hidden, parent=None).initialize_carry(jax.random.PRNGKey(0), (B, self.hidden))
    scan = nn.scan(GlimpseStep, variable_broadcast="params", split_rngs={"params": False}, in_axes=0, out_axes=1)
    step = scan(self.num_classes, self.glimpse_size, self.num_scales, self.hidden, self.glimpse_hidden,
                self.location_std, self.locations, name="step")
    mode = jnp.asarray(1.0 if sample else 0.0)
    _, out = step((lstm, loc0, canvases, mode), jax.random.split(k_steps, self.num_glimpses))
    return out


def losses(out: dict, labels: jax.Array, mask: jax.Array, reinforce: bool = True) -> tuple[jax.Array, dict]:
  """The hybrid loss of one batch (means over the valid examples): cross-entropy of the last
  glimpse's class scores, REINFORCE for the locations l_2..l_T with reward 1[correct] − b_t, and
  the baselines' squared error. ``reinforce=False`` (random locations): the cross-entropy only."""
  n = jnp.maximum(mask.sum(), 1.0)
  logits = out["logits"][:, -1]
  ce = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], -1)[:, 0]
  correct = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
  reward = jax.lax.stop_gradient(correct)
  b = out["baseline"][:, :-1]  # b_t for the location chosen after glimpse t (the last one is unused)
  adv = jax.lax.stop_gradient(reward[:, None] - b)
  pg = -jnp.sum(out["logp"][:, :-1] * adv, -1)
  b_loss = jnp.sum((reward[:, None] - b) ** 2, -1)
  ce_m, pg_m, b_m = (jnp.sum(x * mask) / n for x in (ce, pg, b_loss))
  total = ce_m + (pg_m + b_m if reinforce else 0.0)
  return total, {"cross_entropy": ce_m, "reinforce": pg_m, "baseline_loss": b_m,
                 "accuracy": jnp.sum(correct * mask) / n}
