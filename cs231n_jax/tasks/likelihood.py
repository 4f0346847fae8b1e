"""Likelihood models as a task: minimise a per-image negative log-likelihood (or a bound on it).

One objective serves the lecture's explicit-density models (2017 lecture 13) and the autoencoder:

- the pixel models (PixelCNN, gated PixelCNN, PixelRNN Row LSTM / Diagonal BiLSTM): the exact
  ``-log p(x)`` in nats per image, teacher-forced with every pixel in parallel (dropout on);
- the VAE: the negative ELBO, an upper bound on ``-log p(x)`` (Bernoulli decoder on binarised
  digits; Gaussian decoder on dequantised 17-level digits, reported as a discrete bound);
- the conv autoencoder: the squared L2 reconstruction error per image (not a likelihood, but the
  same kind of per-image loss).

The step is one optax update on the mean per-image loss over the valid examples of the global
batch; validation sums the per-image loss over a split, and the best state is the parameters with
the lowest validation ``loss`` (nats / image; early stopping is ``train.patience``, counted in
validations, one per epoch unless ``train.eval_every`` says otherwise). ``run(config, workdir)`` is
the runner the configs in ``experiments/configs/generative`` name: it trains on the engine
(:func:`cs231n_jax.train.loop.fit`), then does each model's analysis (samples, test bounds,
probes, the 2-D manifold, quadrature, the encoder-pretraining comparison) on the best parameters.
:func:`fit_arrays` trains any per-example loss on in-memory arrays without a workdir of its own
(the digits scorer of :mod:`cs231n_jax.generative.evaluate`, notebooks).
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import autoregressive as ar
from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative import plots
from cs231n_jax.generative import vae as vae_lib
from cs231n_jax.generative.analysis import analyse_autoencoder, analyse_vae, elbo_curve_checks, vae_data, vae_inputs, vae_nll_offset
from cs231n_jax.generative.autoencoder import EncoderClassifier
from cs231n_jax.generative.data import check_levels, load_level_digits, nats_to_bits_per_dim, to_unit
from cs231n_jax.generative.pixelrnn import count_params
from cs231n_jax.models.registry import get_model, list_models
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.likelihood:run"
VAE = "vae"
AUTOENCODER = "conv_autoencoder"
VAL_KEY_OFFSET = 1000  # the VAE's validation bound draws from key(seed + 1000): comparable across epochs

# loss_fn(params, batch, key) -> (per-example losses (B,), {name: per-example values (B,)})
LossFn = Callable[[Any, Mapping[str, jax.Array], jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
# eval_fn(params, batch) -> {"loss": (B,), other name: (B,)}
EvalFn = Callable[[Any, Mapping[str, jax.Array]], dict[str, jax.Array]]


def base_config() -> ml_collections.ConfigDict:
  """The fields every likelihood run reads; experiment configs set the model, optimizer and numbers."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({"binarize": True})  # pixel models; a VAE's data follow its decoder
  c.model = ml_collections.ConfigDict({"name": "pixelcnn"})
  c.optimizer = optim.default_config("adam", 1e-3)
  c.optimizer.eps = 1e-8  # optax's Adam epsilon, which these models were tuned with
  c.train = loop.engine_config()
  c.train.update({"last_batch": "drop"})  # a shuffled epoch's short last batch is skipped
  return c


# ---------------------------------------------------------------------------------------------
# The task: one objective for every per-example loss.
# ---------------------------------------------------------------------------------------------


def loss_task(init_params: Callable[[jax.Array, Mapping[str, Any]], Any], tx: optax.GradientTransformation,
              loss_fn: LossFn, eval_fn: EvalFn, *, finish=None, name: str = "likelihood") -> Task:
  """The task that minimises the mean of ``loss_fn``'s per-example losses with ``tx``.

  The state is ``{"params", "opt_state"}``; training metrics are ``loss`` and the means of the
  auxiliary per-example values (e.g. the VAE's ``kl``); evaluation reports the mean of every value
  ``eval_fn`` returns over a split; the best state is the parameters of the lowest validation
  ``loss``.
  """

  def init(key, example):
    params = init_params(key, example)
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    mask = batch["mask"]

    def objective(params):
      losses, aux = loss_fn(params, batch, key)
      return mean_over_valid(losses, mask, axis_name), {k: mean_over_valid(v, mask, axis_name) for k, v in aux.items()}

    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(state["params"])
    grads, loss, aux = psum_if(grads, axis_name), psum_if(loss, axis_name), psum_if(aux, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, {"loss": loss, **aux}

  def eval_step(state, batch):
    mask = batch["mask"]
    values = eval_fn(state["params"], batch)
    return {**{f"{k}_sum": jnp.sum(v * mask) for k, v in values.items()}, "count": jnp.sum(mask)}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="loss", mode="min",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name=name)


def array_data(splits: Mapping[str, Mapping[str, np.ndarray]], config: ml_collections.ConfigDict) -> Data:
  """Batches of in-memory examples (dicts of arrays): shuffled training batches of ``splits["train"]``
  (an epoch is a permutation drawn from ``(seed, epoch)``), one ordered pass per split to evaluate."""
  t = config.train
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  pi, pc = jax.process_index(), jax.process_count()
  sources = {name: ArraySource(dict(arrays)) for name, arrays in splits.items()}
  train = BatchIterator(sources["train"], t.batch_size, seed=config.seed, last_batch=t.get("last_batch", "drop"),
                        process_index=pi, process_count=pc, name="train")

  def split(name):
    return lambda: eval_batches(sources[name], t.eval_batch_size, 0, pi, pc, name)

  example = {**sources["train"].get_batch(np.arange(1)), "mask": np.ones((1,), np.float32)}
  return Data(train=train, eval={name: split(name) for name in splits}, example=example, batch_size=t.batch_size)


def num_steps(config: ml_collections.ConfigDict, data: Data) -> int:
  return loop.total_steps(config.train, data.train.steps_per_epoch)


def epochs_from_metrics(workdir, steps_per_epoch: int) -> dict[str, int]:
  """``epochs`` (validated epochs) and ``best_epoch`` (lowest validation loss) from ``metrics.jsonl``."""
  val = [r for r in read_jsonl(epath.Path(workdir) / "metrics.jsonl") if r.get("split") == "val"]
  if not val:
    return {"epochs": 0, "best_epoch": 0}
  best = val[int(np.argmin([r["loss"] for r in val]))]["step"]
  return {"epochs": -(-val[-1]["step"] // steps_per_epoch), "best_epoch": -(-best // steps_per_epoch)}


def val_losses(workdir) -> list[float]:
  return [r["loss"] for r in read_jsonl(epath.Path(workdir) / "metrics.jsonl") if r.get("split") == "val"]


@dataclasses.dataclass
class ArrayFit:
  """What :func:`fit_arrays` returns: the best parameters and the engine's results."""

  best_params: Any
  results: dict[str, Any]
  val_losses: list[float]
  epochs: int
  best_epoch: int


def in_memory_train_config(num_epochs: int, batch_size: int, patience: int = 0) -> ml_collections.ConfigDict:
  """Engine settings for a run nobody resumes: no progress bar, one synchronous checkpoint."""
  t = loop.engine_config()
  t.update({"num_epochs": num_epochs, "batch_size": batch_size, "patience": patience, "last_batch": "drop",
            "progress": False, "async_checkpoints": False, "keep_checkpoints": 1, "log_every": 1_000_000})
  return t


def fit_arrays(task: Task, data: Data, config: ml_collections.ConfigDict, workdir: str | None = None) -> ArrayFit:
  """Train ``task`` on the engine and return its best parameters. Without a ``workdir`` the run
  lives in a temporary directory (checkpoints and metrics are thrown away afterwards)."""
  kept, finish = {}, task.finish

  def keep_best(state, evals, run_dir):
    kept["params"] = jax.tree.map(np.asarray, state["params"])
    return finish(state, evals, run_dir) if finish is not None else {}

  task = dataclasses.replace(task, finish=keep_best)
  if config.train.get("checkpoint_every", 0) == 0 and workdir is None:
    config = ml_collections.ConfigDict(config.to_dict())
    config.train.checkpoint_every = num_steps(config, data)  # the final state only
  with tempfile.TemporaryDirectory(prefix="cs231n_jax_fit_") as tmp:
    run_dir = workdir if workdir is not None else tmp
    results = loop.fit(task, data, config, run_dir)
    losses = val_losses(run_dir)
    epochs = epochs_from_metrics(run_dir, data.train.steps_per_epoch)
  return ArrayFit(kept["params"], results, losses, **epochs)


def train_pixel_model(model, train: np.ndarray, val: np.ndarray, *, learning_rate: float, num_epochs: int,
                      batch_size: int, seed: int, workdir: str | None = None, patience: int = 0,
                      weight_decay: float = 0.0) -> ArrayFit:
  """A pixel model on given integer-level images, as a notebook wants it: Adam(W), per-epoch
  validation, the best parameters back (see :func:`fit_arrays`)."""
  check_levels(train, model.num_levels, model.image_shape, "train")
  check_levels(val, model.num_levels, model.image_shape, "val")
  config = ml_collections.ConfigDict({"seed": seed, "train": in_memory_train_config(num_epochs, batch_size, patience or 0)})
  config.optimizer = optim.default_config("adam", learning_rate)
  config.optimizer.update({"eps": 1e-8, "weight_decay": weight_decay})
  splits = {name: {"image": np.asarray(x, np.int32)} for name, x in (("train", train), ("val", val))}
  data = array_data(splits, config)
  tx = optim.make_optimizer(config.optimizer, num_steps(config, data))
  loss_fn, eval_fn = pixel_losses(model)
  return fit_arrays(loss_task(params_initializer(model), tx, loss_fn, eval_fn, name="pixel_nll"), data, config, workdir)


# ---------------------------------------------------------------------------------------------
# The models' per-image losses.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The digit scorer: the classifier that scores generated samples (IS / FD analogues), trained here
# as a per-example cross-entropy task.
# ---------------------------------------------------------------------------------------------


def train_digit_scorer(binarized: bool = False, seed: int = 0, num_epochs: int = 60, batch_size: int = 64,
                       learning_rate: float = 1e-3) -> ev.DigitScorer:
  """Train the scoring classifier on the training split ([0, 1] pixels, or the binarised digits) on the
  engine (cross-entropy as a per-example loss, this module's task, Adam); the epoch
  with the best validation loss is kept."""
  data = load_level_digits(binarized)
  x = {s: to_unit(data.split(s).astype(np.float32), data.num_levels) for s in ("train", "val", "test")}
  model = ev.DigitClassifier()
  config = ml_collections.ConfigDict({"seed": seed, "train": in_memory_train_config(num_epochs, batch_size)})
  arrays = array_data({s: {"image": x[s], "label": np.asarray(getattr(data, f"{s}_labels"), np.int32)}
                                  for s in ("train", "val")}, config)
  loss_fn, eval_fn = classifier_losses(model)
  tx = optax.adam(learning_rate)
  task = loss_task(params_initializer(model), tx, loss_fn, eval_fn, name="digit_scorer")
  params = fit_arrays(task, arrays, config).best_params
  acc = float((np.asarray(model.apply({"params": params}, jnp.asarray(x["test"]))).argmax(-1) == data.test_labels).mean())
  feats = np.asarray(ev.digit_features(model, params, jnp.asarray(x["train"])), np.float64)
  return ev.DigitScorer(model, params, binarized, acc, feats.mean(0), np.cov(feats, rowvar=False))


@functools.lru_cache(maxsize=4)
def digit_scorer(binarized: bool, num_epochs: int) -> ev.DigitScorer:
  """The project's scoring classifier (trained once per process, data kind and length)."""
  return train_digit_scorer(binarized, num_epochs=num_epochs)


def scorer_for(config: ml_collections.ConfigDict, binarized: bool) -> ev.DigitScorer:
  """The scorer a run's config asks for (``scorer_epochs``)."""
  epochs = config.get("scorer_epochs")
  if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
    raise ConfigError(f"scorer_epochs: expected the positive number of epochs the sample scorer trains, got {epochs!r}")
  return digit_scorer(binarized, epochs)


def pixel_losses(model) -> tuple[LossFn, EvalFn]:
  """``-log p(x)`` in nats per image: with dropout (the step's key) to train, without to evaluate."""
  def loss_fn(params, batch, key):
    logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": key})
    return -ar.log_prob_from_logits(logits, batch["image"]), {}

  def eval_fn(params, batch):
    return {"loss": -ar.log_prob_from_logits(model.apply({"params": params}, batch["image"]), batch["image"])}

  return loss_fn, eval_fn


def vae_losses(model, num_levels: int, val_key: jax.Array, val_samples: int) -> tuple[LossFn, EvalFn]:
  """Training: ``-ELBO`` of the (dequantised) batch with one reparameterised draw; evaluation: the
  discrete-nats ``-ELBO`` with ``val_samples`` draws from keys fixed per example (``val_key``
  folded with the example's index), so the validation bound of every epoch uses the same noise."""
  offset = vae_nll_offset(model, num_levels)

  def loss_fn(params, batch, key):
    kx, kz = jax.random.split(key)
    terms = vae_lib.elbo_terms(model, params, vae_inputs(model, batch["image"], kx, num_levels), kz)
    return -terms["elbo"], {"kl": terms["kl"]}

  def eval_fn(params, batch):
    def one(levels, index):
      kx, kz = jax.random.split(jax.random.fold_in(val_key, index))
      terms = vae_lib.elbo_terms(model, params, vae_inputs(model, levels[None], kx, num_levels), kz, val_samples)
      return -terms["elbo"][0] + offset, terms["kl"][0]

    loss, kl = jax.vmap(one)(batch["image"], batch["index"])
    return {"loss": loss, "kl": kl}

  return loss_fn, eval_fn


def squared_error(x_hat: jax.Array, x: jax.Array) -> jax.Array:
  """Per image: ``sum (x_hat - x)^2``."""
  return jnp.sum((x_hat - x) ** 2, axis=tuple(range(1, x.ndim)))


def autoencoder_losses(model) -> tuple[LossFn, EvalFn]:
  """The squared L2 reconstruction error per image (no noise: the step's key is unused)."""

  def loss_fn(params, batch, key):
    del key
    return squared_error(model.apply({"params": params}, batch["image"]), batch["image"]), {}

  def eval_fn(params, batch):
    return {"loss": squared_error(model.apply({"params": params}, batch["image"]), batch["image"])}

  return loss_fn, eval_fn


def classifier_losses(model) -> tuple[LossFn, EvalFn]:
  """Softmax cross-entropy of ``batch["label"]`` (``-log p(y|x)``, dropout on in training) and accuracy."""

  def loss_fn(params, batch, key):
    logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": key})
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]), {}

  def eval_fn(params, batch):
    logits = model.apply({"params": params}, batch["image"])
    return {"loss": optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]),
            "accuracy": (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)}

  return loss_fn, eval_fn


def params_initializer(model, *args, image_key: str = "image"):
  """``init(key, example) -> params`` of a Flax model applied to the example's images."""

  def init(key, example):
    return jax.jit(model.init)(key, jnp.asarray(example[image_key]), *args)["params"]

  return init


# ---------------------------------------------------------------------------------------------
# From a config to the engine.
# ---------------------------------------------------------------------------------------------


def model_kwargs(model_config: ml_collections.ConfigDict) -> dict[str, Any]:
  kw = {k: v for k, v in model_config.to_dict().items() if k != "name"}
  return {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}


def level_splits(data, **extra) -> dict[str, dict[str, np.ndarray]]:
  """Each split of a :class:`LevelDigits` as arrays: integer images, labels, the example's index."""
  out = {}
  for name in ("train", "val", "test"):
    images = np.asarray(data.split(name), np.int32)
    out[name] = {"image": images, "label": np.asarray(getattr(data, f"{name}_labels"), np.int32),
                 "index": np.arange(len(images), dtype=np.int32), **{k: v[name] for k, v in extra.items()}}
  return out


def pixel_task(config: ml_collections.ConfigDict):
  """A pixel model on the digits (``data.binarize``: 2 levels, else 17); after training: the exact
  NLL of every split, ``sample.num_samples`` samples (``samples.npy`` / ``samples.png``)."""
  pixel_models = sorted(list_models("pixel"))
  if config.model.name not in pixel_models:
    raise ConfigError(f"model.name: expected one of {[*pixel_models, VAE, AUTOENCODER]}, got {config.model.name!r}")
  digits = load_level_digits(bool(config.data.binarize))
  try:
    model = get_model(config.model.name, num_levels=digits.num_levels, image_shape=tuple(digits.image_shape),
                      **model_kwargs(config.model))
  except ValueError as e:
    raise ConfigError(str(e)) from None
  for name in ("train", "val"):
    check_levels(digits.split(name), model.num_levels, model.image_shape, name)
  data = array_data(level_splits(digits), config)
  tx = optim.make_optimizer(config.optimizer, num_steps(config, data))
  kind = "binarised" if config.data.binarize else "17-level"

  def finish(state, evals, workdir):
    params = state["params"]
    variables = {"params": params}
    probs = ar.first_pixel_marginal(digits.train, digits.num_levels)
    t0 = time.perf_counter()
    samples = np.asarray(ar.sample(model, variables, jax.random.key(config.seed + 1), config.sample.num_samples,
                                   first_pixel=config.sample.first_pixel, first_pixel_probs=probs))
    sample_seconds = time.perf_counter() - t0
    if jax.process_index() == 0:
      with (epath.Path(workdir) / "samples.npy").open("wb") as f:
        np.save(f, samples)
      plots.save_image_grid(to_unit(samples[:100], digits.num_levels), epath.Path(workdir) / "samples.png",
                            title=f"{config.model.name} samples ({kind} 8x8 digits)")
    d = int(np.prod(model.image_shape))
    return {"model": config.model.name, "binarized": bool(config.data.binarize), "num_levels": digits.num_levels,
            "num_params": count_params(params), "test_nats": evals["test"]["loss"],
            "test_bits_per_dim": float(nats_to_bits_per_dim(evals["test"]["loss"], d)),
            "val_nats": evals["val"]["loss"], "train_nats": evals["train"]["loss"],
            **epochs_from_metrics(workdir, data.train.steps_per_epoch),
            "sampling_steps": ar.num_sampling_steps(model), "sample_seconds_incl_compile": sample_seconds,
            "seed": config.seed}

  loss_fn, eval_fn = pixel_losses(model)
  return loss_task(params_initializer(model), tx, loss_fn, eval_fn, finish=finish, name="pixel_nll"), data


def vae_task(config: ml_collections.ConfigDict):
  """A VAE (``model.decoder`` bernoulli: binarised digits; gaussian: dequantised 17 levels); after
  training, :func:`cs231n_jax.generative.analysis.analyse_vae` on the best parameters."""
  m = config.model
  digits, binarize = vae_data(m.decoder)
  model = get_model(VAE, latent_dim=m.latent_dim, hidden=tuple(m.hidden), decoder=m.decoder, arch=m.arch)
  data = array_data(level_splits(digits), config)
  tx = optim.make_optimizer(config.optimizer, num_steps(config, data))
  val_key = jax.random.key(config.seed + VAL_KEY_OFFSET)
  loss_fn, eval_fn = vae_losses(model, digits.num_levels, val_key, config.eval.val_samples)

  def finish(state, evals, workdir):
    results = analyse_vae(model, state["params"], digits, config, workdir, scorer_for(config, binarize))
    results.update(epochs_from_metrics(workdir, data.train.steps_per_epoch))
    results.update(elbo_curve_checks(val_losses(workdir)))
    return results

  init = params_initializer(model)
  return loss_task(lambda key, example: init(key, {"image": np.zeros((1, *digits.image_shape), np.float32)}), tx,
                   loss_fn, eval_fn, finish=finish, name="vae_neg_elbo"), data


def autoencoder_task(config: ml_collections.ConfigDict):
  """The conv autoencoder on [0, 1] digits (17 levels); after training, the encoder-pretraining
  comparison of :func:`cs231n_jax.generative.analysis.analyse_autoencoder`."""
  digits = load_level_digits(False)
  unit = {name: to_unit(digits.split(name).astype(np.float32), digits.num_levels) for name in ("train", "val", "test")}
  splits = {name: {"image": x, "label": np.asarray(getattr(digits, f"{name}_labels"), np.int32)} for name, x in unit.items()}
  model = get_model(AUTOENCODER, code_dim=config.model.code_dim)
  data = array_data(splits, config)
  tx = optim.make_optimizer(config.optimizer, num_steps(config, data))

  def finish(state, evals, workdir):
    results = analyse_autoencoder(model, state["params"], digits, unit, config, workdir, finetune_few_labels)
    return {"test_l2_per_image": evals["test"]["loss"], **results,
            **epochs_from_metrics(workdir, data.train.steps_per_epoch)}

  loss_fn, eval_fn = autoencoder_losses(model)
  return loss_task(params_initializer(model), tx, loss_fn, eval_fn, finish=finish, name="autoencoder_l2"), data


def finetune_few_labels(encoder_params, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                        config: ml_collections.ConfigDict, seed: int, protocol: Mapping[str, Any] | None = None,
                        return_params: bool = False):
  """The autoencoder study's fine-tune on the engine: the encoder (``encoder_params``, or a random one
  for None) and a softmax classifier trained on the labelled few, full batch, ``pretrain.steps`` Adam
  steps (optax's constants); returns the test accuracy. Both initialisations share the classifier
  drawn from ``key(seed + 100)``. ``protocol`` (see
  :func:`cs231n_jax.generative.analysis.finetune_protocols`) sets the learning rate, whether the encoder
  is frozen (its updates set to zero: only the classifier trains) and the code's activation before the
  classifier; without one: ``pretrain.learning_rate``, the whole network, ReLU. ``return_params``: also the
  trained parameters, as ``(accuracy, params)``."""
  p = {"learning_rate": float(config.pretrain.learning_rate), "freeze_encoder": False, "code_activation": "relu",
       **dict(protocol or {})}
  model = EncoderClassifier(code_dim=config.model.code_dim, code_activation=p["code_activation"])
  init = params_initializer(model)

  def init_params(key, example):
    del key  # the same classifier layer for the encoder and the random initialisation
    params = init(jax.random.key(seed + 100), example)
    return params if encoder_params is None else {**params, "encoder": encoder_params}

  steps = int(config.pretrain.steps)
  c = ml_collections.ConfigDict({"seed": seed, "train": in_memory_train_config(0, len(x))})
  c.train.num_steps = steps
  data = array_data({"train": {"image": np.asarray(x, np.float32), "label": np.asarray(y, np.int32)}}, c)
  tx = optim.make_optimizer({"name": "adam", "learning_rate": float(p["learning_rate"]), "eps": 1e-8}, steps)
  if p["freeze_encoder"]:
    tx = optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()},
                               lambda params: {k: "frozen" if k == "encoder" else "train" for k in params})
  loss_fn, eval_fn = classifier_losses(model)
  params = fit_arrays(loss_task(init_params, tx, loss_fn, eval_fn, name="few_labels_finetune"), data, c).best_params
  pred = np.asarray(model.apply({"params": params}, jnp.asarray(x_test))).argmax(-1)
  accuracy = float((pred == np.asarray(y_test)).mean())
  return (accuracy, params) if return_params else accuracy


def build(config: ml_collections.ConfigDict):
  """``(task, data)`` for a likelihood config: ``model.name`` a pixel model, ``"vae"`` or
  ``"conv_autoencoder"``; ``task.finish`` is that model's analysis."""
  loop.check_engine_config(config.train)
  parallel.initialize()
  name = config.model.name
  if name == VAE:
    return vae_task(config)
  if name == AUTOENCODER:
    return autoencoder_task(config)
  return pixel_task(config)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the config's model on the digits in ``workdir``, then analyse its best parameters."""
  task, data = build(config)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """The mean per-image loss (and the task's other values) of the best checkpointed parameters."""
  task, data = build(config)
  return loop.evaluate_run(dataclasses.replace(task, finish=None), data, config, workdir, split)
