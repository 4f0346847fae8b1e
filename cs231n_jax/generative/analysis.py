"""What the likelihood runs measure after training (``task.finish`` of :mod:`cs231n_jax.tasks.likelihood`,
which trains and passes the sample scorer).

- The VAE (:func:`analyse_vae`): test ``-ELBO`` and the importance-weighted NLL, samples, reconstructions,
  decoded interpolations, a few-labels logistic-regression probe of the encoder means; with a 2-D
  latent, the prior-percentile manifold and the exact quadrature check of ``ELBO <= log p(x)``.
- The autoencoder (:func:`analyse_autoencoder`): its encoder initialises a classifier fine-tuned on a
  few labels per class, against random initialisation and against logistic regression on the frozen
  codes and on raw pixels.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative import plots
from cs231n_jax.generative import vae as vae_lib
from cs231n_jax.generative.autoencoder import ConvAutoencoder
from cs231n_jax.generative.baselines import minimize_lbfgs
from cs231n_jax.generative.data import LevelDigits, check_levels, dequantize, discrete_bound_offset, load_level_digits, nats_to_bits_per_dim
from cs231n_jax.generative.evaluate import NUM_SCORED_SAMPLES, DigitScorer
from cs231n_jax.generative.gan import interpolate


def few_label_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
  """``per_class`` random examples of every class (the few-labels setting)."""
  rng = np.random.default_rng(seed)
  return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                         for c in np.unique(labels)])


def logistic_regression_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                                 c: float = 1.0, iterations: int = 200) -> float:
  """Multinomial logistic regression (L-BFGS on ``mean CE + ||W||^2 / (2 C N)``), test accuracy."""
  x_train, x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
  mean, std = x_train.mean(0), x_train.std(0) + 1e-6  # standardise on the labelled examples only
  x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
  classes = int(max(y_train.max(), y_test.max()) + 1)
  params = _fit_logistic_regression(jnp.asarray(x_train), jnp.asarray(y_train), jnp.float32(c), classes, iterations)
  pred = np.asarray(jnp.asarray(x_test) @ params["w"] + params["b"]).argmax(-1)
  return float((pred == y_test).mean())


@functools.partial(jax.jit, static_argnums=(3, 4))
def _fit_logistic_regression(x: jax.Array, y: jax.Array, c: jax.Array, classes: int, iterations: int):
  """The L-BFGS fit, compiled once per data shape (the probes call it for every seed)."""
  params = {"w": jnp.zeros((x.shape[1], classes)), "b": jnp.zeros((classes,))}

  def objective(p):
    ce = optax.softmax_cross_entropy_with_integer_labels(x @ p["w"] + p["b"], y).mean()
    return ce + jnp.sum(p["w"] ** 2) / (2.0 * c * x.shape[0])

  return minimize_lbfgs(objective, params, iterations)


def vae_data(decoder: str) -> tuple[LevelDigits, bool]:
  """Bernoulli decoder: binarised digits; Gaussian decoder: 17 levels (dequantised in the loss)."""
  binarize = decoder == "bernoulli"
  return load_level_digits(binarize), binarize


def vae_inputs(model: vae_lib.VAE, levels, key: jax.Array, num_levels: int) -> jax.Array:
  """What the VAE models: {0, 1} pixels (Bernoulli) or dequantised ``(levels + u) / 17`` (Gaussian).

  ``levels`` are checked first: 17-level digits given to a Bernoulli decoder would otherwise be
  scored as if every ink value were a probability-1 outcome, a silently wrong likelihood."""
  check_levels(levels, 2 if model.decoder == "bernoulli" else num_levels, tuple(model.image_shape), "levels")
  if model.decoder == "bernoulli":
    return jnp.asarray(levels, jnp.float32)
  return dequantize(key, levels, num_levels)


def vae_nll_offset(model: vae_lib.VAE, num_levels: int) -> float:
  """Nats to add to a continuous NLL bound to bound the discrete NLL (0 for the Bernoulli decoder)."""
  d = int(np.prod(model.image_shape))
  return 0.0 if model.decoder == "bernoulli" else discrete_bound_offset(d, num_levels)


_elbo_terms = jax.jit(vae_lib.elbo_terms, static_argnums=(0, 4))


def evaluate_vae(model: vae_lib.VAE, params, levels: np.ndarray, num_levels: int, key: jax.Array,
                 num_samples: int = 10, iw_k: int | None = None) -> dict[str, float]:
  """Test-set ``-ELBO`` (and optionally ``-log p`` by importance weighting), in discrete nats/image."""
  kx, ke, kiw = jax.random.split(key, 3)
  x = vae_inputs(model, levels, kx, num_levels)
  terms = _elbo_terms(model, params, x, ke, num_samples)
  offset = vae_nll_offset(model, num_levels)
  out = {"neg_elbo": float(-terms["elbo"].mean()) + offset, "kl": float(terms["kl"].mean()),
         "reconstruction": float(terms["reconstruction"].mean())}
  if iw_k:
    out["neg_iw_log_prob"] = float(-vae_lib.importance_weighted_log_prob(model, params, x, kiw, iw_k).mean()) + offset
  return out


def elbo_curve_checks(val_neg_elbo: list[float]) -> dict[str, Any]:
  """The curriculum's training-curve criteria on the held-out bound (one validation per epoch):
  improvement from the first to the last validation, and how often the 3-validation moving average
  of the validation ELBO does not decrease."""
  val = -np.asarray(val_neg_elbo, np.float64)  # ELBO (higher is better)
  if len(val) < 4:
    return {"val_elbo_gain": float(val[-1] - val[0]) if len(val) else 0.0}
  avg = np.convolve(val, np.ones(3) / 3, mode="valid")
  return {"val_elbo_gain": float(val[-1] - val[0]),
          "fraction_moving_average_non_decreasing": float(np.mean(np.diff(avg) >= 0))}


def vae_interpolation(model, params, scorer, seed: int, workdir: str, pairs: int = 20, steps: int = 10) -> dict[str, float]:
  """Decode straight lines between 20 pairs of prior draws (10 steps each) and score them."""
  k0, k1 = jax.random.split(jax.random.key(seed + 4000))
  z0 = jax.random.normal(k0, (pairs, model.latent_dim))
  z1 = jax.random.normal(k1, (pairs, model.latent_dim))
  path = interpolate(z0, z1, steps)  # (T, P, d)
  images = np.asarray(vae_lib.decode_mean(model, params, path.reshape(-1, model.latent_dim)))
  images = images.reshape(steps, pairs, 8, 8, 1).swapaxes(0, 1)  # (P, T, 8, 8, 1)
  plots.save_image_grid(images[:10].reshape(-1, 8, 8, 1), epath.Path(workdir) / "interpolations.png", ncols=steps,
                        title="VAE: decoded linear interpolations between prior draws (rows)")
  return ev.interpolation_report(scorer, images)


def vae_feature_probe(model, params, data: LevelDigits, seeds, per_class: int) -> dict[str, Any]:
  """Logistic regression with ``per_class`` labels per class on the encoder means vs on raw pixels."""
  x_train = vae_inputs(model, data.train, jax.random.key(0), data.num_levels)
  x_test = vae_inputs(model, data.test, jax.random.key(1), data.num_levels)
  mu_train = np.asarray(model.apply({"params": params}, x_train, method=vae_lib.VAE.encode)[0])
  mu_test = np.asarray(model.apply({"params": params}, x_test, method=vae_lib.VAE.encode)[0])
  raw_train, raw_test = np.asarray(x_train).reshape(len(x_train), -1), np.asarray(x_test).reshape(len(x_test), -1)
  acc = {"latent_mean": [], "raw_pixels": []}
  for s in seeds:
    idx = few_label_indices(data.train_labels, per_class, s)
    acc["latent_mean"].append(logistic_regression_accuracy(mu_train[idx], data.train_labels[idx], mu_test, data.test_labels))
    acc["raw_pixels"].append(logistic_regression_accuracy(raw_train[idx], data.train_labels[idx], raw_test, data.test_labels))
  return {f"{k}_accuracy_mean": float(np.mean(v)) for k, v in acc.items()} | {
      f"{k}_accuracy_sd": float(np.std(v)) for k, v in acc.items()} | {"labels_per_class": per_class, "seeds": len(seeds)}


def vae_manifold(model, params, scorer, workdir: str, n: int = 10) -> dict[str, Any]:
  """The lecture's 2-D latent manifold: decode a grid at prior percentiles 5%..95%."""
  z = vae_lib.prior_percentile_grid(n)
  images = np.asarray(vae_lib.decode_mean(model, params, z))
  plots.save_image_grid(images, epath.Path(workdir) / "manifold.png", ncols=n,
                        title="VAE 2-D latent manifold (prior percentiles 5%..95%)")
  classes = scorer.probs(images).argmax(-1)
  grid = images.reshape(n, n, -1).astype(np.float64)
  adjacent = np.concatenate([np.linalg.norm(grid[1:] - grid[:-1], axis=-1).ravel(),
                             np.linalg.norm(grid[:, 1:] - grid[:, :-1], axis=-1).ravel()])
  rng = np.random.default_rng(0)
  flat = grid.reshape(n * n, -1)
  a, b = rng.integers(n * n, size=(2, 2000))
  keep = a != b
  random_pairs = np.linalg.norm(flat[a[keep]] - flat[b[keep]], axis=-1)
  return {"distinct_classes": int(len(np.unique(classes))),
          "adjacent_over_random_median_l2": float(np.median(adjacent) / np.median(random_pairs))}


def vae_quadrature_check(model, params, data: LevelDigits, config) -> dict[str, Any]:
  """For every test image: ELBO (many-sample Monte Carlo) <= log p(x) by quadrature, and
  log p(x) - ELBO = KL(q(z|x) || p(z|x)) on the same grid."""
  key = jax.random.key(config.seed + 5000)
  x = vae_inputs(model, data.test[:config.eval.quadrature_images], jax.random.fold_in(key, 0), data.num_levels)
  elbo = np.asarray(_elbo_terms(model, params, x, jax.random.fold_in(key, 1),
                                config.eval.quadrature_elbo_samples)["elbo"], np.float64)
  grid = config.eval.quadrature_grid
  log_px = np.asarray(vae_lib.quadrature_log_prob(model, params, x, grid), np.float64)
  kl_post = np.asarray(vae_lib.quadrature_posterior_kl(model, params, x, grid), np.float64)
  iw = vae_lib.importance_weighted_log_prob(model, params, x, jax.random.fold_in(key, 2), config.eval.iw_k).astype(np.float64)
  gap = log_px - elbo
  return {
      "images": int(len(x)), "max_elbo_minus_log_px": float(np.max(elbo - log_px)),
      "fraction_elbo_le_log_px": float(np.mean(elbo <= log_px)),
      "mean_gap": float(gap.mean()), "max_abs_gap_minus_posterior_kl": float(np.max(np.abs(gap - kl_post))),
      "mean_log_px_minus_iw": float(np.mean(log_px - iw)),
      "test_neg_log_px_quadrature": float(-log_px.mean()) + vae_nll_offset(model, data.num_levels),
  }


# ----------------------------------------------------------------------------------------------
# After training.


def analyse_vae(model: vae_lib.VAE, params, data: LevelDigits, config: ml_collections.ConfigDict,
                workdir: str, scorer: DigitScorer) -> dict[str, Any]:
  """Everything a VAE run reports besides its training curve, from its best parameters; ``scorer``
  (the project's digit classifier, trained on the same kind of digits) scores its samples."""
  m = config.model
  binarize = m.decoder == "bernoulli"
  offset = vae_nll_offset(model, data.num_levels)
  test = evaluate_vae(model, params, data.test, data.num_levels, jax.random.key(config.seed + 2000),
                      num_samples=config.eval.test_samples, iw_k=config.eval.iw_k)
  results = {
      "decoder": m.decoder, "latent_dim": m.latent_dim, "arch": m.arch, "binarized": binarize,
      "test_neg_elbo": test["neg_elbo"], "test_neg_elbo_bits_per_dim": float(nats_to_bits_per_dim(test["neg_elbo"], 64)),
      "test_neg_iw_log_prob": test["neg_iw_log_prob"],
      "test_iw_bits_per_dim": float(nats_to_bits_per_dim(test["neg_iw_log_prob"], 64)),
      "iw_k": config.eval.iw_k, "test_kl": test["kl"], "test_reconstruction": test["reconstruction"],
      "discrete_offset_nats": offset, "seed": config.seed,
  }
  main = jax.process_index() == 0
  # Generation uses the decoder only.
  skey = jax.random.key(config.seed + 3000)
  means = np.asarray(vae_lib.sample_images(model, params, skey, NUM_SCORED_SAMPLES, mean=True))
  draws = np.asarray(vae_lib.sample_images(model, params, skey, NUM_SCORED_SAMPLES, mean=False))
  x_test = vae_inputs(model, data.test[:50], jax.random.key(0), data.num_levels)
  mu, _ = model.apply({"params": params}, x_test, method=vae_lib.VAE.encode)
  recon = np.asarray(vae_lib.decode_mean(model, params, mu))
  if main:
    with (epath.Path(workdir) / "samples_mean.npy").open("wb") as f:
      np.save(f, means)
    with (epath.Path(workdir) / "samples.npy").open("wb") as f:
      np.save(f, np.clip(draws, 0.0, 1.0))
    plots.save_image_grid(means[:100], epath.Path(workdir) / "samples_mean.png", title="VAE: decoder means of z ~ N(0, I)")
    plots.save_image_grid(np.clip(draws[:100], 0, 1), epath.Path(workdir) / "samples.png", title="VAE: x ~ p(x|z), z ~ N(0, I)")
    plots.save_image_grid(np.concatenate([np.asarray(x_test)[:20], recon[:20]]), epath.Path(workdir) / "reconstructions.png",
                          title="test digits (top two rows) and their reconstructions")
  results["samples_quality"] = ev.sample_quality(scorer, np.clip(draws, 0, 1))
  results["mean_samples_quality"] = ev.sample_quality(scorer, means)
  results["sharpness_mean_samples"] = ev.sharpness_report(means)
  results["interpolation"] = vae_interpolation(model, params, scorer, config.seed, workdir)
  if config.eval.probe_seeds:
    results["features"] = vae_feature_probe(model, params, data, config.eval.probe_seeds, config.eval.labels_per_class)
  if m.latent_dim == 2:
    results["manifold"] = vae_manifold(model, params, scorer, workdir)
    results["quadrature"] = vae_quadrature_check(model, params, data, config)
  return results


DEFAULT_PROTOCOLS = ({"name": "encoder_init", "init": "encoder"}, {"name": "random_init", "init": "random"})
PROTOCOL_FIELDS = ("name", "init", "freeze_encoder", "learning_rate", "code_activation")


def finetune_protocols(pretrain: ml_collections.ConfigDict) -> list[dict[str, Any]]:
  """The fine-tune protocols of ``pretrain.protocols`` (default: the encoder and a random initialisation,
  fine-tuned whole), each ``{name, init: "encoder" | "random", freeze_encoder, learning_rate,
  code_activation}`` with unset fields from ``pretrain`` (``learning_rate``; no freezing; ReLU)."""
  raw = pretrain.get("protocols") or DEFAULT_PROTOCOLS
  out = []
  for i, p in enumerate(raw):
    p = dict(p)
    unknown = set(p) - set(PROTOCOL_FIELDS)
    if unknown:
      raise ValueError(f"pretrain.protocols[{i}]: unknown fields {sorted(unknown)}; expected some of {PROTOCOL_FIELDS}")
    if p.get("init") not in ("encoder", "random") or not p.get("name"):
      raise ValueError(f"pretrain.protocols[{i}]: expected a name and init 'encoder' or 'random', got {p!r}")
    out.append({"freeze_encoder": False, "learning_rate": float(pretrain.learning_rate), "code_activation": "relu", **p})
  names = [p["name"] for p in out]
  if len(set(names)) != len(names):
    raise ValueError(f"pretrain.protocols: names must be distinct, got {names}")
  return out


def analyse_autoencoder(ae: ConvAutoencoder, params, data: LevelDigits, unit: dict[str, np.ndarray],
                        config: ml_collections.ConfigDict, workdir: str, finetune) -> dict[str, Any]:
  """Reconstructions, then the few-labels comparison: every fine-tune protocol of
  :func:`finetune_protocols` (by default the autoencoder's encoder as initialisation vs random
  initialisation), each run by ``finetune(encoder_params or None, x, y, x_test, y_test, config, seed,
  protocol) -> test accuracy`` (an engine run the caller provides), and logistic regression on the frozen
  codes vs on raw pixels."""
  x_train, x_test = unit["train"], unit["test"]
  recon = np.asarray(ae.apply({"params": params}, jnp.asarray(x_test[:20])))
  if jax.process_index() == 0:
    plots.save_image_grid(np.concatenate([x_test[:20], recon]), epath.Path(workdir) / "reconstructions.png",
                          title="test digits (top two rows) and their reconstructions")
  pre = config.pretrain
  protocols = finetune_protocols(pre)
  rows = {**{p["name"]: [] for p in protocols}, "frozen_codes_logreg": [], "raw_pixels_logreg": []}
  codes_train = np.asarray(ae.apply({"params": params}, jnp.asarray(x_train), method=ConvAutoencoder.encode))
  codes_test = np.asarray(ae.apply({"params": params}, jnp.asarray(x_test), method=ConvAutoencoder.encode))
  for s in pre.seeds:
    idx = few_label_indices(data.train_labels, pre.labels_per_class, s)
    for p in protocols:
      rows[p["name"]].append(finetune(params["encoder"] if p["init"] == "encoder" else None, x_train[idx],
                                      data.train_labels[idx], x_test, data.test_labels, config, s, p))
    rows["frozen_codes_logreg"].append(logistic_regression_accuracy(codes_train[idx], data.train_labels[idx], codes_test,
                                                                    data.test_labels))
    rows["raw_pixels_logreg"].append(logistic_regression_accuracy(x_train[idx].reshape(len(idx), -1), data.train_labels[idx],
                                                                  x_test.reshape(len(x_test), -1), data.test_labels))
  results = {"code_dim": config.model.code_dim, "labels_per_class": pre.labels_per_class, "seeds": len(pre.seeds),
             "protocols": protocols, "code_sd": float(codes_train.std()),
             "code_fraction_negative": float((codes_train < 0).mean())}
  for k, v in rows.items():
    results[f"{k}_accuracy_mean"] = float(np.mean(v))
    results[f"{k}_accuracy_sd"] = float(np.std(v))
    results[f"{k}_accuracy"] = [float(a) for a in v]
  return results
