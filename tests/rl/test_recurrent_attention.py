"""The recurrent attention model's pieces: the canvas and the glimpse sensor against NumPy loops, the
Gaussian policy's log-density against scipy, and the hybrid loss's gradient routing (the classifier
learns by backprop only, the location policy by REINFORCE only, the baseline by its squared error)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import attention as A
from cs231n_jax.tasks import rl


def numpy_glimpse(canvas, loc, size, num_scales):
  H = canvas.shape[0]
  out = np.zeros((num_scales, size, size))
  for k in range(num_scales):
    side, f = size * 2 ** k, 2 ** k
    top = int(np.floor((loc[0] + 1) / 2 * H - side / 2 + 0.5))
    left = int(np.floor((loc[1] + 1) / 2 * H - side / 2 + 0.5))
    patch = np.zeros((side, side))
    for i in range(side):
      for j in range(side):
        r, c = top + i, left + j
        if 0 <= r < H and 0 <= c < H:
          patch[i, j] = canvas[r, c]
    out[k] = patch.reshape(size, f, size, f).mean((1, 3))
  return out


def test_paste_and_glimpse_against_numpy():
  rng = np.random.default_rng(0)
  digits = rng.uniform(size=(5, 8, 8)).astype(np.float32)
  positions = np.array([[0, 0], [24, 24], [3, 17], [10, 0], [0, 24]], np.int32)
  canvases = np.asarray(A.paste(jnp.asarray(digits), jnp.asarray(positions), 32))
  for d, p, c in zip(digits, positions, canvases):
    ref = np.zeros((32, 32), np.float32)
    ref[p[0]:p[0] + 8, p[1]:p[1] + 8] = d
    np.testing.assert_array_equal(c, ref)
  # centre, corners (the patches run off the canvas: zeros there), arbitrary places
  locs = np.array([[0.0, 0.0], [-1.0, -1.0], [1.0, 1.0], [0.3, -0.55], [-0.9, 0.71]], np.float32)
  got = np.asarray(A.glimpse(jnp.asarray(canvases), jnp.asarray(locs), 4, 3))
  assert got.shape == (5, 3, 4, 4)
  for g, c, loc in zip(got, canvases, locs):
    np.testing.assert_allclose(g, numpy_glimpse(c, loc, 4, 3), rtol=1e-6, atol=1e-7)
  # the centred coarsest patch of a 16-pixel glimpse over a 32-pixel canvas is the whole canvas, averaged
  whole = np.asarray(A.glimpse(jnp.asarray(canvases), jnp.zeros((5, 2)), 8, 3))[:, 2]
  np.testing.assert_allclose(whole, canvases.reshape(5, 8, 4, 8, 4).mean((2, 4)), rtol=1e-6)
  with pytest.raises(ConfigError, match="data.canvas_size"):
    A.paste(jnp.asarray(digits), jnp.asarray(positions), 6)


def test_gaussian_policy_log_density_against_scipy():
  x, mean = np.array([[0.3, -0.2], [0.9, 0.1]]), np.array([[0.1, 0.0], [-0.5, 0.4]])
  ref = stats.multivariate_normal.logpdf(x - mean, mean=np.zeros(2), cov=0.15 ** 2 * np.eye(2))
  np.testing.assert_allclose(A.gaussian_log_prob(jnp.asarray(x), jnp.asarray(mean), 0.15), ref, rtol=1e-5)


def small_model(**kw):
  return A.RecurrentAttention(num_classes=3, glimpse_size=4, num_scales=2, num_glimpses=3, hidden=8, glimpse_hidden=8, **kw)


def test_each_loss_term_trains_only_its_own_part():
  model, random_model = small_model(), small_model(locations="random")
  x = jax.random.uniform(jax.random.PRNGKey(0), (6, 16, 16))
  labels, mask = jnp.array([0, 1, 2, 0, 1, 2]), jnp.ones(6)
  params = model.init(jax.random.PRNGKey(1), x)["params"]

  @jax.jit  # one compiled program for every check (eager flax scans are slow)
  def everything(params):
    out = model.apply({"params": params}, x, jax.random.PRNGKey(2), sample=True)

    def terms(p):
      _, m = A.losses(model.apply({"params": p}, x, jax.random.PRNGKey(2), sample=True), labels, mask)
      return jnp.stack([m["cross_entropy"], m["reinforce"], m["baseline_loss"]])

    jac = jax.jacrev(terms)(params)["step"]  # d(term) / d(param) for the three terms at once
    size = {name: jnp.stack([sum(jnp.abs(v[i]).sum() for v in jax.tree.leaves(sub)) for i in range(3)])
            for name, sub in jac.items()}
    mean_locs = [model.apply({"params": params}, x, jax.random.PRNGKey(k))["location"] for k in (3, 4)]
    random_locs = random_model.apply({"params": params}, x, jax.random.PRNGKey(3))["location"]
    return out, size, mean_locs, random_locs

  out, size, (a, b), r = everything(params)
  assert out["location"].shape == (6, 3, 2) and out["logits"].shape == (6, 3, 3) and out["logp"].shape == (6, 3)
  np.testing.assert_array_equal(out["location"][:, 0], 0.0)  # the first glimpse at the centre
  assert np.all(np.abs(np.asarray(out["location"])) <= 1.0)
  ce, pg, base = ({name: float(v[i]) for name, v in size.items()} for i in range(3))
  assert ce["classifier"] > 0 and ce["core"] > 0 and ce["patch"] > 0 and ce["location"] == 0 and ce["baseline"] == 0
  assert pg["location"] > 0 and pg["classifier"] == pg["core"] == pg["baseline"] == 0
  assert base["baseline"] > 0 and base["location"] == base["classifier"] == base["core"] == 0
  # evaluation (sample=False) takes the policy's mean: the same locations for any key
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(r, a) and np.all(np.abs(np.asarray(r)) <= 1.0)


@pytest.mark.parametrize("field,value", [("model.locations", "learned"), ("model.num_glimpses", 0),
                                         ("model.location_std", 0.0), ("data.canvas_size", 4)])
def test_bad_attention_config_is_named(field, value):
  c = rl.attention_config()
  block, name = field.split(".")
  c[block][name] = value
  with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as info:
    rl.check_attention_config(c)
  assert "\n" not in str(info.value)
