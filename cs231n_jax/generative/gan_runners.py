"""GAN experiment runners: digits (MLP GAN, DCGAN; any loss, any k), loss / k studies over seeds,
and the 8-Gaussians ring benchmark with the saturation measurement."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative import gan as gan_lib
from cs231n_jax.generative import plots
from cs231n_jax.generative.data import load_level_digits, to_symmetric, to_unit
from cs231n_jax.generative.runners import NUM_SCORED_SAMPLES, config_dict, scorer_for, write_results
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe
from cs231n_jax.train.metrics import MetricWriter

ARCHS = ("mlp", "dcgan")


def make_optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """``adam`` (lr, beta1, beta2) or ``rmsprop`` (lr) — WGAN's critic uses RMSProp."""
  if cfg.name == "adam":
    return optax.adam(cfg.learning_rate, b1=cfg.beta1, b2=cfg.beta2)
  if cfg.name == "rmsprop":
    return optax.rmsprop(cfg.learning_rate)
  raise ConfigError(f"optimizer.name: expected 'adam' or 'rmsprop', got {cfg.name!r}")


def build_networks(config: ml_collections.ConfigDict, data_shape) -> tuple[Any, Any]:
  m = config.model
  if m.arch == "mlp":
    out = "tanh" if len(data_shape) == 3 else "linear"
    return (gan_lib.MLPGenerator(tuple(data_shape), tuple(m.g_hidden), out),
            gan_lib.MLPDiscriminator(tuple(m.d_hidden)))
  if m.arch == "dcgan":
    norm = "none" if config.loss == "wgan_gp" else "batch"  # WGAN-GP: no batch norm in the critic
    return (gan_lib.DCGANGenerator(tuple(data_shape), m.base_features),
            gan_lib.DCGANDiscriminator(m.base_features, norm=norm))
  raise ConfigError(f"model.arch: expected one of {ARCHS}, got {m.arch!r}")


def _host(tree):
  return jax.tree.map(lambda x: np.array(x, copy=True), tree)


def train_gan(config: ml_collections.ConfigDict, data: np.ndarray, workdir: str | None):
  """Train for ``config.train.generator_steps`` generator steps (``config.k`` D steps each), with
  metrics and checkpoints (both networks, both optimizer states, step, key) in ``workdir``."""
  gan_lib.check_loss(config.loss)
  if config.k < 1:
    raise ConfigError(f"k: expected at least 1 discriminator step per generator step, got {config.k}")
  generator, discriminator = build_networks(config, data.shape[1:])
  g_tx, d_tx = make_optimizer(config.g_optimizer), make_optimizer(config.d_optimizer)
  state = gan_lib.init_gan_state(generator, discriminator, g_tx, d_tx, data.shape[1:], config.latent_dim, config.seed)
  step_fn = gan_lib.make_train_step(generator, discriminator, g_tx, d_tx, loss=config.loss,
                                    latent_dim=config.latent_dim, prior=config.prior)
  t = config.train
  start, history = 0, []
  manager = writer = None
  if workdir is not None:
    writer = MetricWriter(workdir, tensorboard=False)
    manager = CheckpointManager(Path(workdir) / "checkpoints", keep=2, async_save=False)
    restored = manager.restore_latest(_host(state), json_safe(config_dict(config)))
    if restored is not None:
      state, start = jax.tree.map(jnp.asarray, restored.tree), restored.step
      writer.truncate_after(start)
  state = jax.tree.map(jnp.array, state)  # private copies: the step donates its input state
  rng = np.random.default_rng([config.seed, start])
  sums, count = None, 0
  t0 = time.perf_counter()
  for step in range(start, t.generator_steps):
    idx = rng.integers(len(data), size=(config.k, t.batch_size))
    state, metrics = step_fn(state, data[idx])
    sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
    count += 1
    done = step + 1 == t.generator_steps
    if (step + 1) % t.log_every == 0 or done:
      record = {k: float(v) / count for k, v in sums.items()}
      history.append({"step": step + 1, **record})
      if writer is not None:
        writer.write(step + 1, "train", record)
      sums, count = None, 0
    if manager is not None and ((step + 1) % t.checkpoint_every == 0 or done):
      manager.save(step + 1, _host(state), {"config": json_safe(config_dict(config))})
      manager.wait()
  seconds = time.perf_counter() - t0
  if manager is not None:
    manager.close()
  if writer is not None:
    writer.close()
  return generator, discriminator, state, history, seconds


def digits_for_gan() -> tuple[np.ndarray, Any]:
  """Training digits in [-1, 1] (the range of the generator's tanh), ``(N, 8, 8, 1)``."""
  data = load_level_digits(False)
  return to_symmetric(data.train.astype(np.float32), data.num_levels), data


def run_gan(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train a GAN on the digits; score its samples (IS / FD analogues), the nearest-neighbour check,
  latent interpolation and vector arithmetic; sample sheets as PNG."""
  train_x, data = digits_for_gan()
  generator, discriminator, state, history, seconds = train_gan(config, train_x, workdir)
  key = jax.random.key(config.seed + 7)
  samples01 = (np.asarray(gan_lib.generate(generator, state, key, NUM_SCORED_SAMPLES, config.latent_dim,
                                           config.prior)) + 1.0) / 2.0
  np.save(Path(workdir) / "samples.npy", samples01)
  title = f"{config.model.arch.upper()} GAN ({config.loss}, k={config.k}) on 8x8 digits"
  plots.save_image_grid(samples01[:100], Path(workdir) / "samples.png", title=title)
  if history:
    plots.save_curves([("D loss", [r["step"] for r in history], [r["d_loss"] for r in history]),
                       ("G loss", [r["step"] for r in history], [r["g_loss"] for r in history])],
                      Path(workdir) / "curves.png", "generator step", "loss", title)
  scorer = scorer_for(config, False)
  train01 = to_unit(data.train.astype(np.float32), data.num_levels)
  test01 = to_unit(data.test.astype(np.float32), data.num_levels)
  results = {"arch": config.model.arch, "loss": config.loss, "k": config.k, "seed": config.seed,
             "generator_steps": config.train.generator_steps, "train_seconds": seconds}
  results["quality"] = ev.sample_quality(scorer, samples01)
  results["memorisation"] = ev.memorisation_report(samples01, train01, test01)
  results["sharpness"] = ev.sharpness_report(samples01)
  d, idx = ev.nearest_train_distances(samples01[:12], train01)
  plots.save_neighbour_sheet(samples01[:12], train01[idx], Path(workdir) / "nearest_neighbours.png", d,
                             title="GAN samples (top) and their nearest training digits (L2 below)")
  results["interpolation"] = gan_interpolation(generator, state, scorer, config, workdir)
  results["vector_arithmetic"] = vector_arithmetic(generator, state, scorer, config, workdir)
  return write_results(workdir, results)


def gan_interpolation(generator, state, scorer, config, workdir: str, pairs: int = 20, steps: int = 10) -> dict[str, float]:
  """Generate along straight lines between 20 pairs of noise vectors (10 steps each)."""
  k0, k1 = jax.random.split(jax.random.key(config.seed + 11))
  z0 = gan_lib.sample_latent(k0, pairs, config.latent_dim, config.prior)
  z1 = gan_lib.sample_latent(k1, pairs, config.latent_dim, config.prior)
  path = gan_lib.interpolate(z0, z1, steps).reshape(-1, config.latent_dim)
  images = (np.asarray(gan_lib.generate(generator, state, None, 0, config.latent_dim, z=path)) + 1.0) / 2.0
  images = images.reshape(steps, pairs, 8, 8, 1).swapaxes(0, 1)
  plots.save_image_grid(images[:10].reshape(-1, 8, 8, 1), Path(workdir) / "interpolations.png", ncols=steps,
                        title="GAN: linear interpolation in z (one row per pair)")
  return ev.interpolation_report(scorer, images)


def vector_arithmetic(generator, state, scorer, config, workdir: str, num: int = 4000, group_size: int = 3) -> dict[str, Any]:
  """The lecture's "smiling woman - neutral woman + neutral man" on a digits proxy: "thick" and
  "thin" (ink above / below the class median) versions of each digit class. For ordered class pairs
  (a, b): decode mean z(a, thick) - mean z(a, thin) + mean z(b, thin) (means of ``group_size``
  latents, as the lecture's three samples per group); it passes when the result is classified as b
  and has more ink than the decode of mean z(b, thin)."""
  z = gan_lib.sample_latent(jax.random.key(config.seed + 13), num, config.latent_dim, config.prior)
  images = (np.asarray(gan_lib.generate(generator, state, None, 0, config.latent_dim, z=z)) + 1.0) / 2.0
  probs = scorer.probs(images)
  labels, conf = probs.argmax(-1), probs.max(-1)
  ink = ev.ink(images)
  z = np.asarray(z)
  groups = {}
  for c in range(10):
    members = np.flatnonzero((labels == c) & (conf > 0.9))
    if len(members) < 2 * group_size:
      continue
    order = members[np.argsort(ink[members])]
    groups[c] = {"thin": z[order[:group_size]].mean(0), "thick": z[order[-group_size:]].mean(0)}
  classes = sorted(groups)
  passed, tried, examples = 0, 0, []
  for a in classes:
    for b in classes:
      if a == b:
        continue
      target = groups[a]["thick"] - groups[a]["thin"] + groups[b]["thin"]
      out = (np.asarray(gan_lib.generate(generator, state, None, 0, config.latent_dim,
                                         z=np.stack([target, groups[b]["thin"]]))) + 1.0) / 2.0
      cls = scorer.probs(out[:1]).argmax(-1)[0]
      ok = bool(cls == b and ev.ink(out[:1])[0] > ev.ink(out[1:])[0])
      passed += ok
      tried += 1
      if len(examples) < 10:
        examples.append(out)
  if examples:
    plots.save_image_grid(np.concatenate(examples), Path(workdir) / "vector_arithmetic.png", ncols=2,
                          title="thick(a) - thin(a) + thin(b) | thin(b)")
  return {"classes_with_groups": len(classes), "pairs": tried, "pass_fraction": passed / tried if tried else 0.0}


def override(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
  """A copy of ``config`` with ``fields`` set; a dict value updates the nested group field by field,
  a dotted name (``"train.generator_steps"``) sets one nested field. Unknown fields are an error."""
  c = copy.deepcopy(config)

  def put(node, key, value, path):
    *parents, leaf = key.split(".")
    for p in parents:
      if p not in node:
        raise ConfigError(f"{path}{key}: unknown field")
      node = node[p]
    if leaf not in node:
      raise ConfigError(f"{path}{key}: unknown field")
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      for k, v in dict(value).items():
        put(node[leaf], k, v, f"{path}{key}.")
    else:
      node[leaf] = value

  for k, v in fields.items():
    put(c, k, v, "")
  return c


def run_gan_study(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """``config.variants`` (each a dict of overrides, e.g. loss or k) x ``config.seeds`` digits GANs;
  a table of sample scores, mean and standard deviation over seeds, and wall-clock time."""
  rows = []
  for variant in config.variants:
    fields = dict(variant)
    name = ",".join(f"{k}={v}" for k, v in fields.items())
    runs = []
    for seed in config.seeds:
      sub = override(config.base, seed=seed, **fields)
      runs.append(run_gan(sub, str(Path(workdir) / f"{name.replace('=', '_').replace(',', '__')}__seed{seed}")))
    row = {"variant": name}
    for metric in ("inception_score", "marginal_entropy", "frechet_distance"):
      vals = [r["quality"][metric] for r in runs]
      row[f"{metric}_mean"], row[f"{metric}_sd"] = float(np.mean(vals)), float(np.std(vals))
    row["train_seconds_mean"] = float(np.mean([r["train_seconds"] for r in runs]))
    row["per_seed_inception_score"] = [r["quality"]["inception_score"] for r in runs]
    rows.append(row)
  lines = ["| variant | IS analogue | marginal entropy (nats) | FD analogue | train s |", "|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['variant']} | {r['inception_score_mean']:.2f} ± {r['inception_score_sd']:.2f} | "
                 f"{r['marginal_entropy_mean']:.2f} ± {r['marginal_entropy_sd']:.2f} | "
                 f"{r['frechet_distance_mean']:.1f} ± {r['frechet_distance_sd']:.1f} | {r['train_seconds_mean']:.0f} |")
  (Path(workdir) / "study.md").write_text("\n".join(lines) + "\n")
  return write_results(workdir, {"rows": rows, "seeds": list(config.seeds), "table": "\n".join(lines)})


# ----------------------------------------------------------------------------------------------
# The ring of Gaussians.


def run_gan_ring(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Every loss in ``config.losses`` x ``config.seeds`` on the 8-Gaussians ring: modes covered, the
  high-quality fraction, and the seed-to-seed spread; plus the saturation measurement."""
  rng = np.random.default_rng(0)
  data = gan_lib.ring_data(rng, config.num_points)
  rows, panels = [], []
  for loss in config.losses:
    runs = []
    for seed in config.seeds:
      sub = override(config.base, seed=seed, loss=loss, **config.per_loss.get(loss, ml_collections.ConfigDict()).to_dict())
      sub_dir = Path(workdir) / f"{loss}__seed{seed}"
      sub_dir.mkdir(parents=True, exist_ok=True)
      generator, _, state, _, seconds = train_gan(sub, data, str(sub_dir))
      pts = np.asarray(gan_lib.generate(generator, state, jax.random.key(seed + 99), config.num_eval_samples,
                                        sub.latent_dim, sub.prior))
      cov = gan_lib.mode_coverage(pts)
      runs.append({**cov, "seed": seed, "train_seconds": seconds})
      if seed == config.seeds[0]:
        panels.append((f"{loss}: {cov['modes_covered']}/8, HQ {cov['high_quality_fraction']:.2f}", pts[:2000]))
    modes = [r["modes_covered"] for r in runs]
    hq = [r["high_quality_fraction"] for r in runs]
    rows.append({"loss": loss, "modes_covered": modes, "high_quality": hq,
                 "modes_mean": float(np.mean(modes)), "modes_sd": float(np.std(modes)),
                 "high_quality_mean": float(np.mean(hq)), "high_quality_sd": float(np.std(hq)),
                 "runs_with_7_modes_and_80pct": int(sum(m >= 7 and h >= 0.8 for m, h in zip(modes, hq))),
                 "train_seconds_mean": float(np.mean([r["train_seconds"] for r in runs]))})
  plots.save_ring_scatter([("data", data[:2000])] + panels, gan_lib.ring_centres(), Path(workdir) / "ring_samples.png")
  lines = ["| loss | modes covered (of 8) per seed | high-quality fraction | runs with ≥7 modes and ≥80% HQ |",
           "|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['loss']} | {r['modes_covered']} (mean {r['modes_mean']:.1f} ± {r['modes_sd']:.1f}) | "
                 f"{r['high_quality_mean']:.2f} ± {r['high_quality_sd']:.2f} | {r['runs_with_7_modes_and_80pct']}/{len(config.seeds)} |")
  results = {"rows": rows, "table": "\n".join(lines), "saturation": saturation_experiment(config, data)}
  (Path(workdir) / "ring.md").write_text("\n".join(lines) + "\n")
  return write_results(workdir, results)


def saturation_experiment(config: ml_collections.ConfigDict, data: np.ndarray) -> dict[str, float]:
  """The lecture's argument measured: train only D (G fixed at its initialisation) until the mean
  D(G(z)) < 0.1, then compare the generator's gradient norm under each generator loss."""
  sub = override(config.base, seed=0, loss="non_saturating")
  generator, discriminator = build_networks(sub, data.shape[1:])
  g_tx, d_tx = make_optimizer(sub.g_optimizer), make_optimizer(sub.d_optimizer)
  state = gan_lib.init_gan_state(generator, discriminator, g_tx, d_tx, data.shape[1:], sub.latent_dim, 0)
  frozen_g = optax.set_to_zero()
  step_fn = gan_lib.make_train_step(generator, discriminator, frozen_g, d_tx, loss="non_saturating",
                                    latent_dim=sub.latent_dim, prior=sub.prior)
  state = state.replace(g_opt_state=frozen_g.init(state.g_params))
  rng = np.random.default_rng(0)
  z_key = jax.random.key(123)
  z = gan_lib.sample_latent(z_key, 1024, sub.latent_dim, sub.prior)
  fake = gan_lib.generate(generator, state, None, 0, sub.latent_dim, z=z)  # G is fixed: so are its samples

  def mean_d(s):
    return float(jnp.mean(jax.nn.sigmoid(discriminator.apply({"params": s.d_params}, fake))))

  steps = 0
  while steps < config.saturation.min_d_steps or (mean_d(state) >= config.saturation.target_d_fake
                                                  and steps < config.saturation.max_d_steps):
    state, _ = step_fn(state, data[rng.integers(len(data), size=(1, sub.train.batch_size))])
    steps += 1
  norms = {loss: gan_lib.generator_gradient_norm(generator, discriminator, state, z_key, 1024, sub.latent_dim, loss,
                                                 sub.prior) for loss in ("minimax", "non_saturating")}
  return {"d_steps": steps, "mean_D_of_G_z": mean_d(state), "grad_norm_minimax": norms["minimax"],
          "grad_norm_non_saturating": norms["non_saturating"],
          "ratio_non_saturating_over_minimax": norms["non_saturating"] / norms["minimax"]}
