"""The generative models' two tables on the held-out digits, and the PixelCNN-vs-PixelRNN speed measurement.

:func:`run_evaluation` trains (or, from its sub-workdirs, resumes) every model with the project's
own per-model configs, then writes

- ``likelihood_table.md`` — test NLL in nats/image and bits/dim, binarised and 17-level digits:
  independent pixels, the logistic autoregressive baseline, PixelCNN, gated PixelCNN, PixelRNN (Row
  LSTM, Diagonal BiLSTM): exact; VAE: the negative ELBO (an upper bound on the NLL) and the
  importance-weighted estimate (k = 1000; also an upper bound in expectation, tighter). Mean ± sd
  over seeds.
- ``sample_quality.md`` — IS / FD analogues, marginal class entropy and mean max-probability of 360
  samples from each model, next to 360 real held-out digits and 360 noise images scored alike.

:func:`run_pixel_speed` times the training step and the sampler of PixelCNN, gated PixelCNN, Row LSTM
and Diagonal BiLSTM at matched parameter counts, in one process, as ratios.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax.config import configs_root, load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import autoregressive as ar
from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative.baselines import fit_independent, select_logistic_autoregressive
from cs231n_jax.generative.data import load_level_digits, nats_to_bits_per_dim, to_unit
from cs231n_jax.generative.evaluate import NUM_SCORED_SAMPLES
from cs231n_jax.generative.pixelrnn import count_params
from cs231n_jax.models.registry import get_model
from cs231n_jax.studies.gans import override, run_gan
from cs231n_jax.studies.preemption import check_not_preempted, stops_when_preempted
from cs231n_jax.tasks import likelihood as likelihood_task
from cs231n_jax.tasks.likelihood import scorer_for

KINDS = {True: "binarised", False: "17-level"}
RESULTS_NAME = "results.json"


def write_results(workdir: str | epath.PathLike, results: dict[str, Any]) -> dict[str, Any]:
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  (epath.Path(workdir) / RESULTS_NAME).write_text(json.dumps(results, indent=2, default=float))
  return results


def run_name(name: str) -> str:
  """A model's name in folders and in ``config.overrides``: ``"vae:gaussian"`` -> ``"vae_gaussian"``."""
  return name.replace(":", "_")


def _config(name: str, config: ml_collections.ConfigDict | None = None) -> ml_collections.ConfigDict:
  """The model config ``name`` (``file`` or ``file:variant``) from the generative folder, with
  ``config.overrides[run_name(name)]`` applied (if any)."""
  file, _, variant = name.partition(":")
  c = load_config(f"{configs_root() / 'generative' / file}.py" + (f":{variant}" if variant else ""))
  extra = config.get("overrides", {}).get(run_name(name)) if config is not None else None
  return override(c, **extra.to_dict()) if extra else c


def _mean_sd(values) -> tuple[float, float | None]:
  """Mean and standard deviation over seeds; no sd from a single seed (a "± 0.00" would read as a measured
  spread)."""
  values = [float(v) for v in values]
  return float(np.mean(values)), (float(np.std(values)) if len(values) > 1 else None)


def _fmt(mean: float, sd: float | None, digits: int = 2) -> str:
  return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _run_likelihood(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  """One likelihood model's engine run (resumed, or only evaluated when complete)."""
  return check_not_preempted(likelihood_task.run(config, str(workdir)), str(workdir))


@stops_when_preempted
def run_evaluation(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train / resume every model, then write the likelihood and sample-quality tables."""
  root = epath.Path(workdir)
  likelihood: list[dict[str, Any]] = []
  quality: list[dict[str, Any]] = []
  scorer_accuracy: dict[str, float] = {}  # the scale of the sample metrics depends on the scorer
  rng = np.random.default_rng(config.seed)
  kinds = tuple(config.get("data_kinds", tuple(KINDS.values())))
  if not kinds or any(k not in KINDS.values() for k in kinds):
    raise ConfigError(f"data_kinds: expected a non-empty subset of {tuple(KINDS.values())}, got {kinds!r}")
  for binarize in (True, False):
    kind = KINDS[binarize]
    if kind not in kinds:
      continue
    data = load_level_digits(binarize)
    scorer = scorer_for(config, binarize)
    scorer_accuracy[kind] = scorer.test_accuracy
    test01 = to_unit(data.test.astype(np.float32), data.num_levels)
    quality.append({"data": kind, "model": "real held-out test digits", **ev.sample_quality(scorer, test01)})
    quality.append({"data": kind, "model": "noise (" + ("coin flips" if binarize else "uniform") + ")",
                    **ev.sample_quality(scorer, ev.uniform_noise(rng, NUM_SCORED_SAMPLES, binarize))})
    # Baselines (deterministic fits: one "seed").
    model, variables = fit_independent(data.train, data.num_levels)
    nats = ar.nll_report(model, variables, data.test)["nats"]
    likelihood.append({"data": kind, "model": "independent pixels (add-1/2)", "nats": nats, "sd": None, "exact": True})
    samples = np.asarray(ar.sample(model, variables, jax.random.key(1), NUM_SCORED_SAMPLES))
    quality.append({"data": kind, "model": "independent pixels", **ev.sample_quality(scorer, to_unit(samples, data.num_levels))})
    model, variables, c, _ = select_logistic_autoregressive(data.train, data.val, data.num_levels,
                                                            tuple(config.logistic_c_grid), config.logistic_iterations)
    nats = ar.nll_report(model, variables, data.test)["nats"]
    likelihood.append({"data": kind, "model": f"logistic autoregressive (C={c:g}, chosen on val)", "nats": nats,
                       "sd": None, "exact": True})
    samples = np.asarray(ar.sample(model, variables, jax.random.key(2), NUM_SCORED_SAMPLES))
    quality.append({"data": kind, "model": "logistic autoregressive",
                    **ev.sample_quality(scorer, to_unit(samples, data.num_levels))})
    # The deep autoregressive models.
    for name in config.pixel_models:
      runs = []
      for seed in config.seeds:
        sub = override(_config(name, config), seed=seed, **{"data.binarize": binarize,
                                                    "sample.num_samples": NUM_SCORED_SAMPLES})
        runs.append(_run_likelihood(sub, root / f"{run_name(name)}__{kind}__seed{seed}"))
      m, s = _mean_sd(r["test_nats"] for r in runs)
      likelihood.append({"data": kind, "model": f"{run_name(name)} ({runs[0]['num_params']:,} params)", "nats": m, "sd": s,
                         "exact": True, "per_seed": [r["test_nats"] for r in runs]})
      with (root / f"{run_name(name)}__{kind}__seed{config.seeds[0]}" / "samples.npy").open("rb") as f:
        samples = np.load(f)
      quality.append({"data": kind, "model": run_name(name), **ev.sample_quality(scorer, to_unit(samples, data.num_levels))})
    # The VAE: Bernoulli decoder on binarised digits, Gaussian decoder on dequantised 17-level digits.
    vae_name = config.vae_binarized if binarize else config.vae_levels
    if not vae_name:  # "" leaves the VAE out of this run
      continue
    runs = []
    for seed in config.seeds:
      runs.append(_run_likelihood(override(_config(vae_name, config), seed=seed), root / f"{run_name(vae_name)}__seed{seed}"))
    m, s = _mean_sd(r["test_neg_elbo"] for r in runs)
    likelihood.append({"data": kind, "model": f"VAE {runs[0]['decoder']}, z={runs[0]['latent_dim']}: -ELBO (bound)",
                       "nats": m, "sd": s, "exact": False})
    m, s = _mean_sd(r["test_neg_iw_log_prob"] for r in runs)
    likelihood.append({"data": kind, "model": f"VAE {runs[0]['decoder']}, z={runs[0]['latent_dim']}: -log p, IW k={runs[0]['iw_k']}",
                       "nats": m, "sd": s, "exact": False})
    with (root / f"{run_name(vae_name)}__seed{config.seeds[0]}" / "samples.npy").open("rb") as f:
      samples = np.load(f)
    quality.append({"data": kind, "model": f"VAE ({runs[0]['decoder']}) samples", **ev.sample_quality(scorer, samples)})
  ae = autoencoder_rows(config, root)
  # GANs model the continuous [0, 1] digits: scored with the grey-level classifier.
  for name in config.gans:
    r = run_gan(override(_config(name, config), seed=config.seeds[0]), str(root / f"{name}__seed{config.seeds[0]}"))
    quality.append({"data": KINDS[False], "model": f"GAN: {name}", **r["quality"]})
  tables = write_tables(root, likelihood, quality, scorer_accuracy)
  if ae:
    tables["autoencoder_table"] = write_autoencoder_table(root, ae)
  return write_results(root, {"likelihood": likelihood, "quality": quality, "scorer_test_accuracy": scorer_accuracy,
                              "autoencoder": ae, **tables})


def autoencoder_rows(config: ml_collections.ConfigDict, root: epath.Path) -> dict[str, Any]:
  """The conv autoencoder (``config.autoencoder``, "" for none) once per seed, its few-labels protocols on one
  label draw per seed (the draw of the seed itself): test L2 per image and every protocol's test accuracy,
  mean ± sd over seeds."""
  name = config.get("autoencoder", "")
  if not name:
    return {}
  runs = [_run_likelihood(override(_config(name, config), seed=seed, **{"pretrain.seeds": (seed,)}),
                          root / f"{run_name(name)}__seed{seed}") for seed in config.seeds]
  rows = {"test_l2_per_image": [r["test_l2_per_image"] for r in runs], "code_dim": runs[0]["code_dim"],
          "labels_per_class": runs[0]["labels_per_class"]}
  names = [p["name"] for p in runs[0]["protocols"]] + ["frozen_codes_logreg", "raw_pixels_logreg"]
  rows["accuracy"] = {n: [r[f"{n}_accuracy_mean"] for r in runs] for n in names}
  rows["protocols"] = runs[0]["protocols"]
  return rows


def write_autoencoder_table(root: epath.Path, ae: dict[str, Any]) -> str:
  m, s = _mean_sd(ae["test_l2_per_image"])
  lines = [f"Conv autoencoder, code {ae['code_dim']}: test L2 per image {_fmt(m, s, 3)} (17-level digits in [0, 1]; "
           f"not a likelihood). Few labels ({ae['labels_per_class']} per class), test accuracy:", "",
           "| protocol | init | encoder | code -> classifier | learning rate | test accuracy (mean ± sd) | per seed |",
           "|---|---|---|---|---|---|---|"]
  protocols = {p["name"]: p for p in ae["protocols"]}
  for name, values in ae["accuracy"].items():
    m, s = _mean_sd(values)
    p = protocols.get(name)
    cells = ([p["init"], "frozen" if p["freeze_encoder"] else "fine-tuned", p["code_activation"], f"{p['learning_rate']:g}"]
             if p else ["—", "frozen", "standardised, L2 logistic regression" if "codes" in name else "raw pixels", "L-BFGS"])
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(100 * m, None if s is None else 100 * s, 1)}% | "
                 + ", ".join(f"{100 * v:.1f}" for v in values) + " |")
  table = "\n".join(lines)
  (root / "autoencoder_table.md").write_text(table + "\n")
  return table


def write_tables(root: epath.Path, likelihood, quality, scorer_accuracy: dict[str, float] | None = None) -> dict[str, str]:
  lines = ["| data | model | test NLL (nats/image) | bits/dim | exact? |", "|---|---|---|---|---|"]
  for r in likelihood:
    bits = nats_to_bits_per_dim(r["nats"], 64)
    sd_bits = None if r["sd"] is None else nats_to_bits_per_dim(r["sd"], 64)
    lines.append(f"| {r['data']} | {r['model']} | {_fmt(r['nats'], r['sd'])} | {_fmt(bits, sd_bits, 3)} | "
                 f"{'exact' if r['exact'] else 'upper bound'} |")
  like = "\n".join(lines)
  lines = ["| data | images | IS analogue | marginal entropy (nats) | mean max-prob | FD analogue | classes |",
           "|---|---|---|---|---|---|---|"]
  for r in quality:
    lines.append(f"| {r['data']} | {r['model']} | {r['inception_score']:.2f} | {r['marginal_entropy']:.2f} | "
                 f"{r['mean_max_prob']:.2f} | {r['frechet_distance']:.1f} | {r['classes_present']} |")
  if scorer_accuracy:
    lines.append("")
    lines.append("Scorer: the project's digits classifier, test accuracy " + ", ".join(
        f"{100 * acc:.1f}% ({kind})" for kind, acc in scorer_accuracy.items()) + ".")
  qual = "\n".join(lines)
  (root / "likelihood_table.md").write_text(like + "\n")
  (root / "sample_quality.md").write_text(qual + "\n")
  return {"likelihood_table": like, "sample_quality_table": qual}


# ----------------------------------------------------------------------------------------------
# Speed: parallel training vs sequential recurrence, and the sequential sampler.


def _median_seconds(fn, *args, repeats: int) -> float:
  jax.block_until_ready(fn(*args))  # compile and warm up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def run_pixel_speed(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Steady-state train-step and forward time of each pixel model, and sampling time per image, at
  each image size, as ratios to PixelCNN measured in the same process."""
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  rows = []
  for size in config.sizes:
    shape = (size, size, 1)
    rng = np.random.default_rng(0)
    batch = jnp.asarray(rng.integers(0, config.num_levels, (config.batch_size, *shape)), jnp.int32)
    base = None
    for name in config.order:
      model = get_model(name, num_levels=config.num_levels, image_shape=shape, **config.models[name].to_dict())
      params = ar.init_pixel_model(model, 0)
      tx = optax.adam(1e-3)
      loss_fn = ar.nll_loss_fn(model)

      @jax.jit
      def train_step(p, s, b):
        g = jax.grad(lambda q: loss_fn(q, b, jax.random.key(0))[0])(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

      forward = jax.jit(lambda p, b: model.apply({"params": p}, b))
      step_s = _median_seconds(train_step, params, tx.init(params), batch, repeats=config.repeats)
      fwd_s = _median_seconds(forward, params, batch, repeats=config.repeats)
      sample_fn = lambda p: ar.sample(model, {"params": p}, jax.random.key(0), config.sample_batch)
      sample_s = _median_seconds(sample_fn, params, repeats=max(1, config.repeats // 5))
      row = {"size": size, "model": name, "params": count_params(params), "train_step_ms": 1e3 * step_s,
             "forward_ms": 1e3 * fwd_s, "sample_ms_per_image": 1e3 * sample_s / config.sample_batch,
             "sampling_steps": ar.num_sampling_steps(model),
             "sample_batch_over_one_forward": sample_s / _median_seconds(forward, params, batch[:config.sample_batch],
                                                                         repeats=config.repeats)}
      if base is None:
        base = row
      row["params_ratio"] = row["params"] / base["params"]
      row["train_step_ratio"] = row["train_step_ms"] / base["train_step_ms"]
      row["sample_ratio"] = row["sample_ms_per_image"] / base["sample_ms_per_image"]
      rows.append(row)
  lines = [f"| image | model | params (ratio) | train step ms (ratio to PixelCNN) | sampling ms/image (ratio) | "
           f"sampling a batch of {config.sample_batch} / one forward of it |", "|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['size']}x{r['size']} | {r['model']} | {r['params']:,} ({r['params_ratio']:.2f}) | "
                 f"{r['train_step_ms']:.1f} ({r['train_step_ratio']:.2f}x) | {r['sample_ms_per_image']:.1f} "
                 f"({r['sample_ratio']:.2f}x) | {r['sample_batch_over_one_forward']:.0f} ({r['sampling_steps']} steps) |")
  table = "\n".join(lines)
  (epath.Path(workdir) / "speed.md").write_text(table + "\n")
  return write_results(workdir, {"rows": rows, "table": table, "batch_size": config.batch_size,
                                 "device": str(jax.devices()[0].platform)})
