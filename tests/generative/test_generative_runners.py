"""Every generative config loads and names a runner; each runner runs end to end on a tiny setting
and leaves its results and figures in the workdir."""

import json
from pathlib import Path

import numpy as np
import pytest

from cs231n_jax.config import configs_root, load_config, resolve_runner, variants_of
from cs231n_jax.studies.gans import override

CONFIGS = sorted(p.stem for p in (configs_root() / "generative").glob("*.py"))


def test_every_generative_config_documents_itself_and_resolves_its_runner():
  assert {"pixelcnn", "gated_pixelcnn", "pixelrnn", "vae", "autoencoder", "gan_mlp", "dcgan", "gan_ring", "gan_losses",
          "gan_k_ablation", "evaluation", "pixel_speed"} <= set(CONFIGS)
  for name in CONFIGS:
    path = configs_root() / "generative" / f"{name}.py"
    text = path.read_text()
    assert "Command: cs231n-jax train --config experiments/configs/generative/" in text, name
    assert "Expected:" in text, name
    for variant in variants_of(path) or [None]:
      config = load_config(f"{path}:{variant}" if variant else path)
      assert callable(resolve_runner(config)), (name, variant)
  assert variants_of(configs_root() / "generative" / "vae.py") == ("bernoulli", "2d", "gaussian")
  assert load_config(f"{configs_root()}/generative/vae.py:2d").model.latent_dim == 2
  assert load_config(f"{configs_root()}/generative/vae.py:gaussian").model.decoder == "gaussian"
  assert load_config(f"{configs_root()}/generative/pixelrnn.py:diagonal").model.name == "diagonal_bilstm"


def cfg(name, **fields):
  file, _, variant = name.partition(":")
  return override(load_config(f"{configs_root()}/generative/{file}.py" + (f":{variant}" if variant else "")), **fields)


def results(workdir):
  return json.loads((Path(workdir) / "results.json").read_text())


@pytest.mark.slow
def test_vae_runner_with_a_2d_latent_checks_the_bound_by_quadrature(tmp_path):
  from cs231n_jax.tasks.likelihood import run

  c = cfg("vae:2d", **{"model.hidden": (32,), "train.num_epochs": 2, "train.batch_size": 128, "scorer_epochs": 2,
                       "eval": {"iw_k": 20, "test_samples": 5, "val_samples": 2, "quadrature_elbo_samples": 2000,
                                "quadrature_images": 40, "quadrature_grid": 100, "probe_seeds": (0,)}})
  r = run(c, str(tmp_path))
  q = r["quadrature"]
  assert q["images"] == 40 and q["fraction_elbo_le_log_px"] > 0.95
  assert r["test_neg_iw_log_prob"] <= r["test_neg_elbo"] + 0.1
  assert r["manifold"]["distinct_classes"] >= 1
  assert {"manifold.png", "samples.png", "interpolations.png", "reconstructions.png"} <= {
      p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
def test_autoencoder_runner_compares_encoder_init_with_random_init(tmp_path):
  from cs231n_jax.tasks.likelihood import run

  c = cfg("autoencoder", **{"model.code_dim": 4, "train": {"num_epochs": 2, "batch_size": 256},
                            "pretrain": {"seeds": (0,), "steps": 3}})
  c.pretrain.protocols = ({"name": "encoder_init", "init": "encoder"}, {"name": "random_init", "init": "random"},
                          {"name": "frozen_linear", "init": "encoder", "freeze_encoder": True, "code_activation": "none"})
  r = run(c, str(tmp_path))
  assert r["seeds"] == 1 and r["labels_per_class"] == 10 and r["test_l2_per_image"] > 0
  assert r["status"] == "trained" and r["test_l2_per_image"] == pytest.approx(r["test_loss"])
  for row in ("encoder_init", "random_init", "frozen_linear", "frozen_codes_logreg", "raw_pixels_logreg"):
    assert 0.0 <= r[f"{row}_accuracy_mean"] <= 1.0 and r[f"{row}_accuracy_sd"] >= 0.0, row
    assert len(r[f"{row}_accuracy"]) == 1, row
  assert [p["name"] for p in r["protocols"]] == ["encoder_init", "random_init", "frozen_linear"]
  assert r["protocols"][2]["learning_rate"] == c.pretrain.learning_rate and r["protocols"][0]["code_activation"] == "relu"
  # The evaluation study's table of these rows: every protocol, the two logistic regressions, one value per seed.
  from cs231n_jax.studies.generative_evaluation import write_autoencoder_table

  ae = {"test_l2_per_image": [r["test_l2_per_image"]] * 2, "code_dim": 4, "labels_per_class": 10,
        "protocols": r["protocols"], "accuracy": {n: [r[f"{n}_accuracy_mean"], 0.5] for n in
                                                  ("encoder_init", "random_init", "frozen_linear", "frozen_codes_logreg",
                                                   "raw_pixels_logreg")}}
  table = write_autoencoder_table(tmp_path, ae)
  assert table == (tmp_path / "autoencoder_table.md").read_text().strip()
  assert "| frozen_linear | encoder | frozen | none | 0.001 |" in table and table.count(" ± ") == 5 + 2  # rows, L2, header
  assert "| raw_pixels_logreg | — | frozen | raw pixels | L-BFGS |" in table
  # Raw-pixel logistic regression on 100 labelled digits is far above chance (10%) on any seed.
  assert r["raw_pixels_logreg_accuracy_mean"] > 0.6
  assert {"reconstructions.png", "curves.png", "results.json"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
def test_gan_runner_checkpoints_both_networks_and_scores_samples(tmp_path):
  from cs231n_jax.studies.gans import run_gan

  c = cfg("dcgan", **{"model.base_features": 8, "train": {"num_steps": 6, "log_every": 3, "checkpoint_every": 3,
                                                          "progress": False},
                      "scorer_epochs": 1, "k": 2})
  r = run_gan(c, str(tmp_path))
  assert r["k"] == 2 and set(r["quality"]) >= {"inception_score", "frechet_distance", "marginal_entropy"}
  assert 0 <= r["memorisation"]["fraction_closer_than_any_heldout"] <= 1
  assert {"samples.png", "nearest_neighbours.png", "interpolations.png", "losses.png", "curves.png"} <= {
      p.name for p in tmp_path.iterdir()}
  steps = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert steps == [3, 6]
  again = run_gan(c, str(tmp_path))  # resumes at step 6: nothing left to train
  assert r["status"] == "trained" and again["status"] == "complete"
  assert again["quality"]["inception_score"] == pytest.approx(r["quality"]["inception_score"], rel=1e-5)


@pytest.mark.slow
def test_ring_runner_and_speed_runner(tmp_path):
  from cs231n_jax.studies.gans import run_gan_ring
  from cs231n_jax.studies.generative_evaluation import run_pixel_speed

  c = cfg("gan_ring", losses=("non_saturating", "wgan"), seeds=(0,), num_eval_samples=500,
          saturation={"min_d_steps": 5, "max_d_steps": 9, "check_every": 2, "target_d_fake": 0.0},
          base={"data": {"num_points": 2000}, "train": {"num_steps": 4, "log_every": 2, "checkpoint_every": 4,
                                                        "progress": False}})
  r = run_gan_ring(c, str(tmp_path / "ring"))
  assert [row["loss"] for row in r["rows"]] == ["non_saturating", "wgan"]
  # D alone for 5 steps, then 2 more at a time until D(G(z)) < 0 (never): 5, 7, 9 (the cap).
  assert r["saturation"]["d_steps"] == 9 and r["saturation"]["grad_norm_non_saturating"] > 0
  assert (tmp_path / "ring" / "ring_samples.png").exists()
  # The trajectory: the same run in two resumed segments of 2 steps ends where the 4-step run ended.
  from cs231n_jax.studies.gans import run_ring_trajectory

  c.trajectory = {"losses": ("non_saturating",), "seeds": (0,), "every": 2}
  t = run_ring_trajectory(c, str(tmp_path / "trajectory"))
  (row,) = t["rows"]
  assert [p["step"] for p in row["points"]] == [2, 4] and row["max_modes_at_once"] <= row["modes_ever_covered"] <= 8
  assert row["final_high_quality"] == pytest.approx(r["rows"][0]["high_quality"][0], abs=1e-12)
  assert "| non_saturating | 0 | 2: " in (tmp_path / "trajectory" / "trajectory.md").read_text()
  s = cfg("pixel_speed", sizes=(4,), batch_size=4, sample_batch=2, repeats=1, order=("pixelcnn", "diagonal_bilstm"),
          models={"pixelcnn": {"features": 4, "num_layers": 1, "head_features": 4},
                  "gated_pixelcnn": {"features": 4, "num_layers": 1, "head_features": 4},
                  "row_lstm": {"hidden": 2, "num_layers": 1, "head_features": 4},
                  "diagonal_bilstm": {"hidden": 2, "num_layers": 1, "head_features": 4}})
  r = run_pixel_speed(s, str(tmp_path / "speed"))
  assert [row["model"] for row in r["rows"]] == ["pixelcnn", "diagonal_bilstm"]
  assert r["rows"][0]["train_step_ratio"] == 1.0 and all(row["sampling_steps"] == 16 for row in r["rows"])


@pytest.mark.slow
def test_evaluation_runner_writes_both_tables_and_resumes_every_model(tmp_path):
  from cs231n_jax.studies.generative_evaluation import run_evaluation

  tiny_pixel = {"model": {"features": 4, "num_layers": 1, "head_features": 4}, "train": {"num_epochs": 1, "batch_size": 256}}
  tiny_vae = {"model": {"hidden": (16,), "latent_dim": 3}, "train": {"num_epochs": 1, "batch_size": 256},
              "eval": {"iw_k": 3, "test_samples": 1, "val_samples": 1, "probe_seeds": ()}, "scorer_epochs": 1}
  c = cfg("evaluation", seeds=(0,), pixel_models=("gated_pixelcnn",), gans=("gan_mlp",), logistic_c_grid=(1.0,),
          logistic_iterations=10, scorer_epochs=1, autoencoder="")  # the autoencoder rows: the autoencoder test
  c.overrides = {"gated_pixelcnn": tiny_pixel, "vae_bernoulli": tiny_vae, "vae_gaussian": tiny_vae,
                 "gan_mlp": {"train": {"num_steps": 2, "log_every": 1, "checkpoint_every": 2, "progress": False},
                             "scorer_epochs": 1}}
  r = run_evaluation(c, str(tmp_path))
  like = (tmp_path / "likelihood_table.md").read_text()
  assert like.count("| binarised |") == 5 and like.count("| 17-level |") == 5  # 2 baselines, 1 model, 2 VAE rows
  assert "±" not in like  # one seed: no spread is claimed
  qual = (tmp_path / "sample_quality.md").read_text()
  assert "real held-out test digits" in qual and "noise (uniform)" in qual and "GAN: gan_mlp" in qual
  assert set(r["scorer_test_accuracy"]) == {"binarised", "17-level"}
  assert all(0.0 < a <= 1.0 for a in r["scorer_test_accuracy"].values())
  assert "Scorer: the project's digits classifier, test accuracy" in qual  # the metrics' scale, in the table
  indep = [row for row in r["likelihood"] if row["model"].startswith("independent")]
  assert [round(row["nats"], 2) for row in indep] == [25.21, 107.97]
  pixel = results(tmp_path / "gated_pixelcnn__binarised__seed0")
  assert pixel["epochs"] == 1 and pixel["sampling_steps"] == 64 and 0 < pixel["test_nats"] < 64 * np.log(2) + 1
  assert {"samples.png", "curves.png", "samples.npy"} <= {p.name for p in (tmp_path / "gated_pixelcnn__binarised__seed0").iterdir()}
  gaussian = results(tmp_path / "vae_gaussian__seed0")
  assert gaussian["discrete_offset_nats"] == pytest.approx(64 * np.log(17))  # the dequantisation bound's D log L
  assert 0 < gaussian["test_neg_elbo"] < 3 * 64 * np.log(17)
  # A second run restores every model's final checkpoint and trains nothing: same numbers.
  again = run_evaluation(c, str(tmp_path))
  for a, b in zip(r["likelihood"], again["likelihood"]):
    if "IW" not in a["model"] and "ELBO" not in a["model"]:  # (VAE bounds are Monte Carlo estimates with fixed keys)
      assert a["nats"] == pytest.approx(b["nats"], rel=1e-5), a["model"]
  assert results(tmp_path / "gated_pixelcnn__binarised__seed0")["test_nats"] == pytest.approx(pixel["test_nats"], rel=1e-6)
