"""The 2016 unsupervised lecture's classical models as engine tasks (:mod:`cs231n_jax.generative.rbm`).

- ``run_linear_ae``: a tied-weight linear autoencoder on centred digits, trained by the engine on
  the squared reconstruction error; afterwards the principal angles between span(W) and the top-H
  principal subspace of the training set, and the reconstruction error against PCA's (the optimum).
- ``run_rbm``: greedy layer-wise pretraining: a Bernoulli RBM on the digits' pixels in [0, 1]
  trained by CD-1 (the CD-1 gradient goes to the optax optimizer as a gradient), then a second RBM
  on the first one's hidden probabilities; each layer is one engine run (its own sub-directory).
  Afterwards a linear probe (logistic regression on standardised features) on the pixels, on each
  layer's features, and on the features of untrained RBMs of the same sizes.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import rbm
from cs231n_jax.train import loop
from cs231n_jax.train.task import Data, Task

LINEAR_AE_RUNNER = "cs231n_jax.tasks.unsupervised:run_linear_ae"
RBM_RUNNER = "cs231n_jax.tasks.unsupervised:run_rbm"


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = LINEAR_AE_RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "digits", "view": "8x8x1", "scale": True, "subtract_mean": True})
  c.model = ml_collections.ConfigDict({"num_hidden": 8, "init_std": 0.1})
  c.rbm = ml_collections.ConfigDict({"hidden_sizes": (100, 50), "init_std": 0.01, "sample_visible": False})
  c.probe = ml_collections.ConfigDict({"c": 1.0})
  c.optimizer = optim.default_config("adam", 1e-2)
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 1000, "eval_every": 250, "log_every": 50, "eval_batch_size": 512,
                  "checkpoint_every": 1000, "keep_checkpoints": 1})
  return c


def _positive(block, name, v):
  if isinstance(v, bool) or not isinstance(v, int) or v < 1:
    raise ConfigError(f"{block}.{name}: expected a positive integer, got {v!r}")


def _flat(split) -> np.ndarray:
  return np.reshape(np.asarray(split.images, np.float32), (len(split), -1))


def _data(config, arrays: dict[str, np.ndarray]) -> Data:
  t = config.train
  sources = {k: ArraySource({"x": v}) for k, v in arrays.items()}
  train = BatchIterator(sources["train"], t.batch_size, seed=config.seed, last_batch="drop", name="train")
  evals = {k: (lambda k=k: eval_batches(sources[k], t.eval_batch_size, name=k)) for k in ("val", "train", "test")}
  return Data(train=train, eval=evals, example=sources["train"].get_batch(np.arange(1)), batch_size=t.batch_size)


def _quiet_fit(task, data, config, workdir):
  import contextlib
  import io

  with contextlib.redirect_stdout(io.StringIO()):
    return loop.fit(task, data, config, str(workdir))


# --- the tied-weight linear autoencoder --------------------------------------------------------

def _keep_params(kept: dict[str, Any]):
  """A ``Task.finish`` that keeps the best state's parameters (host arrays) in ``kept``."""
  def finish(state, evals, workdir):
    del evals, workdir
    kept["params"] = jax.tree.map(np.asarray, state["params"])
    return {}
  return finish


def linear_ae_task(model, tx, finish=None) -> Task:
  def init(key, example):
    params = model.init(key, jnp.asarray(example["x"]))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def loss_fn(params, x, mask):
    recon, _ = model.apply({"params": params}, x)
    per = jnp.sum((recon - x) ** 2, axis=-1)
    return jnp.sum(per * mask) / jnp.maximum(jnp.sum(mask), 1.0), per

  def train_step(state, batch, key, axis_name=None):
    del key, axis_name
    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], batch["x"], batch["mask"])
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, {"loss": loss}

  def eval_step(state, batch):
    _, per = loss_fn(state["params"], batch["x"], batch["mask"])
    return {"loss_sum": jnp.sum(per * batch["mask"]), "count": jnp.sum(batch["mask"])}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="loss", mode="min",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="linear_ae")


def run_linear_ae(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the tied linear autoencoder on centred digits; compare span(W) with PCA's top-H subspace."""
  _positive("model", "num_hidden", config.model.num_hidden)
  if not config.data.subtract_mean:
    raise ConfigError("data.subtract_mean: the linear autoencoder has no bias; expected True (centred inputs)")
  dataset = load_dataset(config.data)
  arrays = {s: _flat(dataset.split(s)) for s in ("train", "val", "test")}
  h = config.model.num_hidden
  if h >= arrays["train"].shape[1]:
    raise ConfigError(f"model.num_hidden: expected fewer than the {arrays['train'].shape[1]} input dimensions, got {h}")
  model = rbm.TiedLinearAutoencoder(h, config.model.init_std)
  t = config.train
  data = _data(config, arrays)
  tx = optim.make_optimizer(config.optimizer, loop.total_steps(t, data.train.steps_per_epoch))
  kept: dict[str, Any] = {}
  results = _quiet_fit(linear_ae_task(model, tx, _keep_params(kept)), data, config, workdir)
  if results.get("status") == "preempted":
    return results
  w = np.asarray(kept["params"]["W"], np.float64)
  basis, eigenvalues = rbm.top_principal_subspace(arrays["train"], h)
  angles = rbm.principal_angles(w, basis)
  pca_error = float(eigenvalues[h:].sum())  # the optimum: the variance outside the top-H subspace, per example
  return {**results, "principal_angles_deg": np.degrees(angles).tolist(), "max_principal_angle_deg": float(np.degrees(angles.max())),
          "pca_train_reconstruction_error": pca_error, "eigenvalue_gap": [float(eigenvalues[h - 1]), float(eigenvalues[h])],
          "wtw_minus_identity_max": float(np.abs(w.T @ w - np.eye(h)).max())}


# --- the RBM and greedy layer-wise pretraining ---------------------------------------------------

def rbm_task(num_visible: int, num_hidden: int, tx, init_std: float, visible_mean, sample_visible: bool, finish=None) -> Task:
  def init(key, example):
    del example
    params = rbm.init_rbm(key, num_visible, num_hidden, init_std, visible_mean)
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    del axis_name
    grads, stats = rbm.cd1_step_gradient(state["params"], batch["x"], key, sample_visible)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": stats["reconstruction_error"]})

  def eval_step(state, batch):
    err = rbm.mean_field_reconstruction_error(state["params"], batch["x"])
    fe = rbm.free_energy(state["params"], batch["x"])
    return {"reconstruction_error_sum": jnp.sum(err * batch["mask"]), "free_energy_sum": jnp.sum(fe * batch["mask"]),
            "count": jnp.sum(batch["mask"])}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="reconstruction_error", mode="min",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="rbm")


def run_rbm(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Greedy layer-wise pretraining of ``rbm.hidden_sizes`` (one engine run per layer), then probes."""
  from cs231n_jax.ssl.probe import linear_probe
  from cs231n_jax.train.metrics import JSONL_NAME, read_jsonl

  sizes = tuple(config.rbm.hidden_sizes)
  if not sizes:
    raise ConfigError("rbm.hidden_sizes: expected at least one layer")
  for n in sizes:
    _positive("rbm", "hidden_sizes", n)
  if config.data.subtract_mean or not config.data.scale:
    raise ConfigError("data: Bernoulli visible units need pixels in [0, 1]; expected scale=True, subtract_mean=False")
  dataset = load_dataset(config.data)
  arrays = {s: _flat(dataset.split(s)) for s in ("train", "val", "test")}
  labels = {s: np.asarray(dataset.split(s).labels) for s in ("train", "test")}
  path = epath.Path(workdir)
  t = config.train
  out: dict[str, Any] = {"hidden_sizes": list(sizes), "layers": []}
  probe = {"pixels": linear_probe(arrays["train"], labels["train"], arrays["test"], labels["test"], c=config.probe.c)}
  random_feats = dict(arrays)
  for i, h in enumerate(sizes, start=1):
    v = arrays["train"].shape[1]
    tx = optim.make_optimizer(config.optimizer, t.num_steps)
    kept: dict[str, Any] = {}
    task = rbm_task(v, h, tx, config.rbm.init_std, arrays["train"].mean(0), config.rbm.sample_visible, _keep_params(kept))
    sub = path / f"layer{i}"
    results = _quiet_fit(task, _data(config, arrays), config, sub)
    if results.get("status") == "preempted":
      return results
    params = kept["params"]
    curve = [r["loss"] for r in read_jsonl(sub / JSONL_NAME) if r.get("split") == "train" and "loss" in r]
    untrained = rbm.init_rbm(jax.random.key(config.seed + i), v, h, config.rbm.init_std, arrays["train"].mean(0))
    arrays = {s: np.asarray(rbm.hidden_probs(params, jnp.asarray(x))) for s, x in arrays.items()}
    random_feats = {s: np.asarray(rbm.hidden_probs(untrained, jnp.asarray(x))) for s, x in random_feats.items()}
    probe[f"rbm{i}"] = linear_probe(arrays["train"], labels["train"], arrays["test"], labels["test"], c=config.probe.c)
    probe[f"untrained_rbm{i}"] = linear_probe(random_feats["train"], labels["train"], random_feats["test"], labels["test"],
                                              c=config.probe.c)
    out["layers"].append({"visible": v, "hidden": h, "train_reconstruction_error_first_last": [curve[0], curve[-1]],
                          "test_reconstruction_error": results["test_reconstruction_error"],
                          "test_free_energy": results["test_free_energy"]})
  out["probe_test_accuracy"] = probe
  return out
