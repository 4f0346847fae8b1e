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
from cs231n_jax.studies.preemption import check_not_preempted, stops_when_preempted
from cs231n_jax.tasks import adversarial, likelihood
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
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
  results = check_not_preempted(loop.fit(built.task, built.data, config, workdir), str(workdir))
  state, _, _ = loop.restore_best(built.task, built.data, config, workdir)
  return built, state["task"], results


# ----------------------------------------------------------------------------------------------
# Digits.


@stops_when_preempted
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
  results["discriminator"] = discriminator_trace(workdir)
  results["memorisation"] = ev.memorisation_report(samples01, train01, test01)
  results["sharpness"] = ev.sharpness_report(samples01)
  d, idx = ev.nearest_train_distances(samples01[:12], train01)
  plots.save_neighbour_sheet(samples01[:12], train01[idx], epath.Path(workdir) / "nearest_neighbours.png", d,
                             title="GAN samples (top) and their nearest training digits (L2 below)")
  results["interpolation"] = gan_interpolation(built.generator, state, scorer, config, workdir)
  results["vector_arithmetic"] = vector_arithmetic(built.generator, state, scorer, config, workdir)
  results["vector_arithmetic_median_split"] = vector_arithmetic(built.generator, state, scorer, config, workdir,
                                                                group="median")
  return write_results(workdir, results)


def discriminator_trace(workdir: str | epath.PathLike) -> dict[str, Any]:
  """The discriminator's mean output on real and on generated batches over training, from the run's
  logged windows (``d_real`` / ``d_fake``: mean logits for the cross-entropy losses): where the minimax
  generator loss log(1 - D(G(z))) saturates (D(G(z)) < 0.1 is a logit below log(1/9) = -2.20), and
  whether training went there."""
  records = [r for r in read_jsonl(epath.Path(workdir) / "metrics.jsonl") if r.get("split") == "train" and "d_fake" in r]
  if not records:
    return {}
  fake = np.array([r["d_fake"] for r in records])
  return {"d_fake_logit_min": float(fake.min()), "d_fake_logit_mean": float(fake.mean()),
          "d_fake_logit_first": float(fake[0]), "d_fake_logit_last": float(fake[-1]),
          "d_real_logit_mean": float(np.mean([r["d_real"] for r in records])), "windows": len(records),
          "fraction_windows_d_fake_below_0.1": float((fake < np.log(1 / 9)).mean())}


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


def vector_arithmetic(generator, state, scorer, config, workdir: str, num: int = 4000, group_size: int = 3,
                      group: str = "extremes") -> dict[str, Any]:
  """The lecture's "smiling woman - neutral woman + neutral man" on a digits proxy
  (:func:`cs231n_jax.generative.evaluate.vector_arithmetic_report`) on ``num`` latents from
  ``key(seed + 13)``: thick and thin groups of each class are its ``group_size`` most / least inked
  confident samples (``"extremes"``, the lecture's three per group) or its halves split at the median
  ink (``"median"``, the curriculum's reading). The first pairs' decodes are saved as a PNG."""
  z = gan_lib.sample_latent(jax.random.key(config.seed + 13), num, config.latent_dim, config.prior)

  def decode(latents):
    return (np.asarray(gan_lib.generate(generator, state, None, 0, config.latent_dim, z=jnp.asarray(latents))) + 1.0) / 2.0

  r = ev.vector_arithmetic_report(decode, scorer, np.asarray(z), group=group, group_size=group_size)
  examples = r.pop("examples")
  if len(examples):
    suffix = "" if group == "extremes" else f"_{group}"
    plots.save_image_grid(examples, epath.Path(workdir) / f"vector_arithmetic{suffix}.png", ncols=2,
                          title=f"thick(a) - thin(a) + thin(b) | thin(b) ({group} groups)")
  return r


@stops_when_preempted
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


@stops_when_preempted
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
      check_not_preempted(loop.fit(task, data_, cfg, workdir), str(workdir))
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


@stops_when_preempted
def run_ring_trajectory(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Which ring modes a GAN covers as training goes on: each loss of ``config.trajectory.losses`` and each
  seed of ``config.trajectory.seeds``, one engine run per (loss, seed) extended ``trajectory.every``
  generator steps at a time (each extension resumes the last, so the run is one run), its
  ``num_eval_samples`` samples from a fixed key scored after every extension. A run whose modes covered
  at each point stay few while the union over points grows is moving its mass from mode to mode (the
  lecture's instability), not failing to reach the modes."""
  t = config.trajectory
  data = adversarial.training_examples(config.base)
  rows = []
  for loss in t.losses:
    for seed in t.seeds:
      sub0 = override(config.base, seed=seed, loss=loss, **config.per_loss.get(loss, ml_collections.ConfigDict()).to_dict())
      points = []
      for steps in range(t.every, sub0.train.num_steps + 1, t.every):
        sub = override(sub0, **{"train.num_steps": steps, "train.checkpoint_every": t.every, "train.progress": False})
        with warnings.catch_warnings():  # a longer run of the same schedule-free optimizers
          warnings.filterwarnings("ignore", message="train.num_steps / train.num_epochs: this run has")
          built, state, _ = train(sub, epath.Path(workdir) / f"{loss}__seed{seed}", data)
        cov = gan_lib.mode_coverage(adversarial.generate(built, sub, state, config.num_eval_samples,
                                                         jax.random.key(seed + 99)))
        covered = [i for i, f in enumerate(cov["per_mode_fraction"]) if f >= gan_lib.MODE_MIN_FRACTION]
        points.append({"step": steps, "modes": covered, "high_quality_fraction": cov["high_quality_fraction"]})
      union = sorted({m for p in points for m in p["modes"]})
      changes = sum(p["modes"] != q["modes"] for p, q in zip(points, points[1:]))
      rows.append({"loss": loss, "seed": seed, "points": points, "modes_ever_covered": len(union),
                   "max_modes_at_once": max(len(p["modes"]) for p in points), "mode_set_changes": changes,
                   "final_modes": len(points[-1]["modes"]), "final_high_quality": points[-1]["high_quality_fraction"]})
  lines = ["| loss | seed | modes covered at each point (step: modes) | most at once | ever covered | "
           "changes of the covered set |", "|---|---|---|---|---|---|"]
  for r in rows:
    trace = "; ".join(f"{p['step']}: {len(p['modes'])}" for p in r["points"])
    lines.append(f"| {r['loss']} | {r['seed']} | {trace} | {r['max_modes_at_once']} | {r['modes_ever_covered']} | "
                 f"{r['mode_set_changes']} of {len(r['points']) - 1} |")
  (epath.Path(workdir) / "trajectory.md").write_text("\n".join(lines) + "\n")
  return write_results(workdir, {"rows": rows, "table": "\n".join(lines)})
