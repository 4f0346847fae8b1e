"""Lecture 13's GAN experiments: engine runs of :mod:`cs231n_jax.tasks.adversarial` plus their analysis.

- :func:`run_gan`: a GAN on the digits; its samples scored by the project's digits classifier (IS /
  FD analogues), the nearest-neighbour memorisation check, latent interpolation and the
  vector-arithmetic proxy; sample sheets as PNG.
- :func:`run_gan_study`: variants (loss, k, ...) x seeds of :func:`run_gan`; a table of the sample
  scores, mean and standard deviation over seeds.
- :func:`run_gan_ring`: every loss x seeds on the 8-Gaussians ring: modes covered, the
  high-quality fraction, the seed-to-seed spread; and the saturation measurement
  (:func:`saturation_experiment`).
"""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative import gan as gan_lib
from cs231n_jax.generative import plots
from cs231n_jax.generative.data import load_level_digits, to_unit
from cs231n_jax.tasks import adversarial, likelihood
from cs231n_jax.train import loop
from cs231n_jax.train.task import Data


def override(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
  """A copy of ``config`` with ``fields`` set; a dict value updates the nested group field by field,
  a dotted name (``"train.num_steps"``) sets one nested field. Unknown fields are an error."""
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


def write_results(workdir: str | epath.PathLike, results: dict[str, Any]) -> dict[str, Any]:
  """``results`` as the workdir's ``results.json`` (a study's, over the engine's own)."""
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  (epath.Path(workdir) / loop.RESULTS_NAME).write_text(json.dumps(results, indent=2, default=float))
  return results


def train(config: ml_collections.ConfigDict, workdir: str | epath.PathLike, examples: np.ndarray | None = None):
  """``(built, state, results)``: the engine's run of the GAN of ``config`` in ``workdir``
  (resumed, or only restored when complete), and its final state."""
  built = adversarial.build(config, examples)
  results = loop.fit(built.task, built.data, config, workdir)
  state, _, _ = loop.restore_best(built.task, built.data, config, workdir)
  return built, state["task"], results


# ----------------------------------------------------------------------------------------------
# Digits.


def run_gan(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train a GAN on the digits; score its samples (IS / FD analogues), the nearest-neighbour check,
  latent interpolation and vector arithmetic; sample sheets as PNG."""
  if config.data.name != "digits":
    raise ConfigError(f"data.name: this study scores digits, got {config.data.name!r}")
  built, state, run = train(config, workdir)
  adversarial.plot_losses(workdir, adversarial.title_of(config))
  data = load_level_digits(False)
  samples01 = (adversarial.generate(built, config, state, ev.NUM_SCORED_SAMPLES) + 1.0) / 2.0
  with (epath.Path(workdir) / "samples.npy").open("wb") as f:
    np.save(f, samples01)
  plots.save_image_grid(samples01[:100], epath.Path(workdir) / adversarial.SAMPLES_NAME, title=adversarial.title_of(config))
  scorer = likelihood.scorer_for(config, False)
  train01 = to_unit(data.train.astype(np.float32), data.num_levels)
  test01 = to_unit(data.test.astype(np.float32), data.num_levels)
  results = {"arch": config.model.arch, "loss": config.loss, "k": config.k, "seed": config.seed,
             "generator_steps": config.train.num_steps, "status": run["status"],
             "train_seconds": run["wall_time_s"]}
  results["quality"] = ev.sample_quality(scorer, samples01)
  results["memorisation"] = ev.memorisation_report(samples01, train01, test01)
  results["sharpness"] = ev.sharpness_report(samples01)
  d, idx = ev.nearest_train_distances(samples01[:12], train01)
  plots.save_neighbour_sheet(samples01[:12], train01[idx], epath.Path(workdir) / "nearest_neighbours.png", d,
                             title="GAN samples (top) and their nearest training digits (L2 below)")
  results["interpolation"] = gan_interpolation(built.generator, state, scorer, config, workdir)
  results["vector_arithmetic"] = vector_arithmetic(built.generator, state, scorer, config, workdir)
  return write_results(workdir, results)


def gan_interpolation(generator, state, scorer, config, workdir: str, pairs: int = 20, steps: int = 10) -> dict[str, float]:
  """Generate along straight lines between 20 pairs of noise vectors (10 steps each)."""
  k0, k1 = jax.random.split(jax.random.key(config.seed + 11))
  z0 = gan_lib.sample_latent(k0, pairs, config.latent_dim, config.prior)
  z1 = gan_lib.sample_latent(k1, pairs, config.latent_dim, config.prior)
  path = gan_lib.interpolate(z0, z1, steps).reshape(-1, config.latent_dim)
  images = (np.asarray(gan_lib.generate(generator, state, None, 0, config.latent_dim, z=path)) + 1.0) / 2.0
  images = images.reshape(steps, pairs, 8, 8, 1).swapaxes(0, 1)
  plots.save_image_grid(images[:10].reshape(-1, 8, 8, 1), epath.Path(workdir) / "interpolations.png", ncols=steps,
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
    plots.save_image_grid(np.concatenate(examples), epath.Path(workdir) / "vector_arithmetic.png", ncols=2,
                          title="thick(a) - thin(a) + thin(b) | thin(b)")
  return {"classes_with_groups": len(classes), "pairs": tried, "pass_fraction": passed / tried if tried else 0.0}


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
      runs.append(run_gan(sub, str(epath.Path(workdir) / f"{name.replace('=', '_').replace(',', '__')}__seed{seed}")))
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
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  (epath.Path(workdir) / "study.md").write_text("\n".join(lines) + "\n")
  return write_results(workdir, {"rows": rows, "seeds": list(config.seeds), "table": "\n".join(lines)})


# ----------------------------------------------------------------------------------------------
# The ring of Gaussians.


def run_gan_ring(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Every loss in ``config.losses`` x ``config.seeds`` on the 8-Gaussians ring: modes covered, the
  high-quality fraction, and the seed-to-seed spread; plus the saturation measurement."""
  data = adversarial.training_examples(config.base)
  rows, panels = [], []
  for loss in config.losses:
    runs = []
    for seed in config.seeds:
      sub = override(config.base, seed=seed, loss=loss, **config.per_loss.get(loss, ml_collections.ConfigDict()).to_dict())
      built, state, run = train(sub, epath.Path(workdir) / f"{loss}__seed{seed}", data)
      pts = adversarial.generate(built, sub, state, config.num_eval_samples, jax.random.key(seed + 99))
      cov = gan_lib.mode_coverage(pts)
      runs.append({**cov, "seed": seed, "train_seconds": run["wall_time_s"]})
      if seed == config.seeds[0]:
        panels.append((f"{loss}: {cov['modes_covered']}/8, HQ {cov['high_quality_fraction']:.2f}", pts[:2000]))
    modes = [r["modes_covered"] for r in runs]
    hq = [r["high_quality_fraction"] for r in runs]
    rows.append({"loss": loss, "modes_covered": modes, "high_quality": hq,
                 "modes_mean": float(np.mean(modes)), "modes_sd": float(np.std(modes)),
                 "high_quality_mean": float(np.mean(hq)), "high_quality_sd": float(np.std(hq)),
                 "runs_with_7_modes_and_80pct": int(sum(m >= 7 and h >= 0.8 for m, h in zip(modes, hq))),
                 "train_seconds_mean": float(np.mean([r["train_seconds"] for r in runs]))})
  plots.save_ring_scatter([("data", data[:2000])] + panels, gan_lib.ring_centres(), epath.Path(workdir) / "ring_samples.png")
  lines = ["| loss | modes covered (of 8) per seed | high-quality fraction | runs with ≥7 modes and ≥80% HQ |",
           "|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['loss']} | {r['modes_covered']} (mean {r['modes_mean']:.1f} ± {r['modes_sd']:.1f}) | "
                 f"{r['high_quality_mean']:.2f} ± {r['high_quality_sd']:.2f} | {r['runs_with_7_modes_and_80pct']}/{len(config.seeds)} |")
  results = {"rows": rows, "table": "\n".join(lines),
             "saturation": saturation_experiment(config, data, epath.Path(workdir) / "saturation")}
  (epath.Path(workdir) / "ring.md").write_text("\n".join(lines) + "\n")
  return write_results(workdir, results)


def saturation_experiment(config: ml_collections.ConfigDict, data: np.ndarray, workdir: str | epath.PathLike) -> dict[str, float]:
  """The lecture's argument measured: train only D (G fixed at its initialisation) until the mean
  D(G(z)) < ``saturation.target_d_fake`` (at least ``min_d_steps`` and at most ``max_d_steps``
  steps, checked every ``check_every``), then compare the generator's gradient norm under each
  generator loss. D's training is an engine run of the adversarial task with a zero generator
  optimizer, extended ``check_every`` steps at a time (each extension resumes the last)."""
  s = config.saturation
  sub = override(config.base, seed=0, loss="non_saturating", k=1)
  generator, discriminator = adversarial.build_networks(sub, data.shape[1:])
  frozen_g = optax.set_to_zero()
  d_tx = adversarial.make_optimizer(sub.optimizer.discriminator, s.max_d_steps, "optimizer.discriminator")
  task = adversarial.adversarial_task(generator, discriminator, frozen_g, d_tx, loss="non_saturating", k=1,
                                      latent_dim=sub.latent_dim, prior=sub.prior)
  sampler = adversarial.ReplacementSampler(data, sub.train.batch_size, 1, sub.seed)
  z_key = jax.random.key(123)
  z = gan_lib.sample_latent(z_key, 1024, sub.latent_dim, sub.prior)

  def d_only(num_steps):
    cfg = override(sub, **{"train.num_steps": num_steps, "train.checkpoint_every": num_steps,
                           "train.log_every": min(num_steps, sub.train.log_every), "train.progress": False})
    data_ = Data(train=sampler, eval={}, example={"real": data[:1]}, batch_size=sub.train.batch_size)
    with warnings.catch_warnings():  # D's optimizer has no schedule: extending the run changes nothing
      warnings.filterwarnings("ignore", message="train.num_steps / train.num_epochs: this run has")
      loop.fit(task, data_, cfg, workdir)
    return loop.restore_best(task, data_, cfg, workdir)[0]["task"]

  def mean_d(state):
    fake = gan_lib.generate(generator, state, None, 0, sub.latent_dim, z=z)  # G is fixed: so are its samples
    return float(jnp.mean(jax.nn.sigmoid(discriminator.apply({"params": state.d_params}, fake))))

  steps = s.min_d_steps
  state = d_only(steps)
  while mean_d(state) >= s.target_d_fake and steps < s.max_d_steps:
    steps = min(steps + s.check_every, s.max_d_steps)
    state = d_only(steps)
  norms = {loss: gan_lib.generator_gradient_norm(generator, discriminator, state, z_key, 1024, sub.latent_dim, loss,
                                                 sub.prior) for loss in ("minimax", "non_saturating")}
  return {"d_steps": steps, "mean_D_of_G_z": mean_d(state), "grad_norm_minimax": norms["minimax"],
          "grad_norm_non_saturating": norms["non_saturating"],
          "ratio_non_saturating_over_minimax": norms["non_saturating"] / norms["minimax"]}
