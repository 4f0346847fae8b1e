"""Image classification as a task: softmax cross-entropy over the valid examples of the global batch.

The default experiment of the course (lectures 2-9): a Flax classifier from the model registry,
an optax optimizer from :mod:`cs231n_jax.optim`, on an image data set of :mod:`cs231n_jax.data`,
with on-device augmentation, auxiliary classifier heads (GoogLeNet), bfloat16 compute, transfer
from another run's parameters, and the lecture 6 babysitting numbers. ``run(config, workdir)`` is
the runner every classifier config names; ``evaluate`` is what ``cs231n-jax eval`` calls.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data import augment, load_dataset
from cs231n_jax.data.pipeline import BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.models import get_model
from cs231n_jax.train import loop, parallel, report
from cs231n_jax.train.checkpoint import CheckpointManager, leaf_paths
from cs231n_jax.train.state import TrainState, create_train_state
from cs231n_jax.train.steps import PMAP_AXIS, mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
AUX_COLLECTION = "aux_logits"
CONFUSION_NAME = "confusion_matrix.png"
RUNNER = "cs231n_jax.tasks.classification:run"

AugmentOps = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]


def base_config() -> ml_collections.ConfigDict:
  """Defaults of every field a classification run reads; experiment configs start from this."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict(
      {"name": "digits", "view": "8x8x1", "scale": True, "subtract_mean": True, "dir": "",
       "augment": "",  # e.g. "crop(padding=4) | flip": cs231n_jax.data.augment, run on the device
       "classes": (), "train_per_class": 0, "subset_seed": 0,  # subsets: cs231n_jax.data.load_dataset
       "train_on_val": False,  # the final fit on train + val after model selection (data.load_dataset)
       # The grain pipeline (cs231n_jax.data.pipeline): worker processes that read and decode the
       # batches (0: this process) and how many batches are read ahead; neither changes a batch.
       "workers": 0, "prefetch": 2,
       "cache_dir": ""}  # where a large data set's mean image is cached ("": cs231n_jax.data.cache's default)
  )
  c.model = ml_collections.ConfigDict({"name": "three_layer_convnet"})
  c.optimizer = optim.default_config("momentum", 0.1)  # fields: cs231n_jax.optim.factory
  c.train = loop.engine_config()
  c.train.update({
      "last_batch": "pad",        # the short last batch of an epoch: "pad" (masked) or "drop"
      "compute_dtype": "float32",  # "bfloat16": bf16 compute, float32 params and optimizer state
      # Weight of auxiliary classifiers' losses, for models that sow "aux_logits" (GoogLeNet's
      # paper: 0.3); models without auxiliary heads are unaffected.
      "aux_loss_weight": 0.3,
      # Start a fresh run from the best parameters of an earlier run's workdir (transfer learning):
      # leaves are matched by path; those matching a regex in init_keep_fresh keep this run's
      # initialisation (e.g. "^head/" for a new classifier).
      "init_from": "",
      "init_keep_fresh": (),
      # Babysitting (lecture 6): log each layer's ||update|| / ||weights|| (the lecture's ~1e-3)
      # as train metrics update_ratio/<layer>.
      "log_update_ratio": False,
  })
  return c


def parse_augment(spec: str) -> AugmentOps:
  """``"crop(padding=4) | flip"`` → ``(("crop", (("padding", 4),)), ("flip", ()))``.

  Names are those of :data:`cs231n_jax.data.augment.AUGMENTATIONS`; arguments are literals.
  """
  ops = []
  for part in (p.strip() for p in spec.split("|")):
    if not part:
      continue
    try:
      node = ast.parse(part, mode="eval").body
      if isinstance(node, ast.Name):
        name, kwargs = node.id, ()
      elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        name = node.func.id
        kwargs = tuple((kw.arg, ast.literal_eval(kw.value)) for kw in node.keywords)
      else:
        raise ValueError
    except (SyntaxError, ValueError):
      raise ConfigError(f"data.augment: cannot read {part!r}; expected name or name(key=value, ...)") from None
    if name not in augment.AUGMENTATIONS:
      raise ConfigError(f"data.augment: unknown augmentation {name!r}; expected one of {tuple(augment.AUGMENTATIONS)}")
    ops.append((name, kwargs))
  return tuple(ops)


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  t = config.train
  loop.check_engine_config(t)
  if t.compute_dtype not in COMPUTE_DTYPES:
    raise ConfigError(f"train.compute_dtype: expected one of {tuple(COMPUTE_DTYPES)}, got {t.compute_dtype!r}")
  if "name" not in config.model:
    raise ConfigError("model.name: every config names its model")
  parse_augment(config.data.get("augment", ""))


def build_model(model_config: ml_collections.ConfigDict, num_classes: int, compute_dtype: str):
  kwargs = {k: v for k, v in model_config.items() if k != "name"}
  kwargs = {k: (v.to_dict() if isinstance(v, ml_collections.ConfigDict) else v) for k, v in kwargs.items()}
  try:
    probe = get_model(model_config.name)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  fields = getattr(type(probe), "__dataclass_fields__", {})
  if "num_classes" in fields:
    kwargs.setdefault("num_classes", num_classes)
  if compute_dtype != "float32":
    if "dtype" not in fields:
      raise ConfigError(f"train.compute_dtype: model {model_config.name!r} has no dtype field for {compute_dtype} compute")
    kwargs["dtype"] = COMPUTE_DTYPES[compute_dtype]
  try:
    return get_model(model_config.name, **kwargs)
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e).splitlines()[0]) from None


def prepare_model(model: nn.Module, kind: str) -> nn.Module:
  """The model as the ``kind`` step needs it: under pmap, batch norm reduces over the pmap axis."""
  if kind == "pmap" and "bn_axis_name" in getattr(model, "__dataclass_fields__", {}):
    return model.clone(bn_axis_name=PMAP_AXIS)
  return model


# ---------------------------------------------------------------------------------------------
# The maths of one step.
# ---------------------------------------------------------------------------------------------


def apply_model(state: TrainState, params, images, train: bool, rng):
  """Run the model; returns (float32 logits, updated non-trainable collections, auxiliary logits).

  In training, a model may ``sow`` extra classifier heads' logits into the ``"aux_logits"``
  collection (GoogLeNet's auxiliary classifiers); they are returned separately, never stored.
  """
  variables = {"params": params, **state.model_state}
  if not train:
    return state.apply_fn(variables, images, train=False, rngs={"dropout": rng}).astype(jnp.float32), state.model_state, {}
  out, updates = state.apply_fn(variables, images, train=True, rngs={"dropout": rng},
                                mutable=[*state.model_state, AUX_COLLECTION])
  updates = dict(updates)
  aux = updates.pop(AUX_COLLECTION, {})
  return out.astype(jnp.float32), {k: updates[k] for k in state.model_state}, aux


def update_ratios(old_params: Any, new_params: Any) -> dict[str, jax.Array]:
  """Lecture 6's babysitting number per top-level layer: ||update|| / ||weights|| (~1e-3 is healthy;
  much larger, the learning rate is too high; much smaller, too low)."""
  def ratio(old, new):
    return optax.tree.norm(jax.tree.map(jnp.subtract, new, old)) / jnp.maximum(optax.tree.norm(old), jnp.finfo(jnp.float32).tiny)

  return {str(layer): ratio(old, new_params[layer]) for layer, old in old_params.items()}


def train_step(state: TrainState, batch, rng, axis_name: str | None = None, augment_ops: AugmentOps = (),
               aux_loss_weight: float = 0.0, log_update_ratio: bool = False):
  """One SGD step on the mean softmax cross-entropy over the valid examples of the global batch.

  ``rng`` is the step's key (the engine's: different on every step and device). ``augment_ops``
  (``(name, kwargs)`` pairs of :mod:`cs231n_jax.data.augment`) transform the images on the device
  first; every example draws its own randomness. Auxiliary classifier logits (the
  ``"aux_logits"`` collection) add ``aux_loss_weight`` x their cross-entropy to the loss; the
  reported loss is the main classifier's. ``log_update_ratio`` adds :func:`update_ratios`.
  """
  dropout_rng, augment_rng = jax.random.split(rng)
  ops = tuple((name, dict(kwargs)) for name, kwargs in augment_ops)
  images = augment.augment(augment_rng, batch["image"], ops) if ops else batch["image"]
  mask = batch["mask"]

  def mean_cross_entropy(logits):
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["label"])
    return mean_over_valid(losses, mask, axis_name)

  def loss_fn(params):
    logits, model_state, aux = apply_model(state, params, images, True, dropout_rng)
    main = mean_cross_entropy(logits)
    total = main + aux_loss_weight * sum(mean_cross_entropy(a) for a in jax.tree.leaves(aux))
    return total, (main, logits, model_state)

  (_, (loss, logits, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = psum_if(grads, axis_name)
  loss = psum_if(loss, axis_name)
  accuracy = psum_if(mean_over_valid(jnp.argmax(logits, -1) == batch["label"], mask, axis_name), axis_name)
  new_state = state.apply_gradients(grads, model_state)
  metrics = {"loss": loss, "accuracy": accuracy, "grad_norm": optax.tree.norm(grads)}
  if log_update_ratio:
    metrics["update_ratio"] = update_ratios(state.params, new_state.params)
  return new_state, metrics


def plain_train_step(state: TrainState, batch):
  """One step outside the engine (benchmarks, notebooks): the step's key is the state's own key
  folded with its step, which is how the engine derives it for a run of the same seed."""
  return train_step(state, batch, jax.random.fold_in(state.rng, state.step))


def eval_step(state: TrainState, batch):
  """Sums over the valid examples of a batch: loss, correct predictions, count, confusion matrix
  (rows = true class, columns = predicted class)."""
  logits, _, _ = apply_model(state, state.params, batch["image"], False, state.rng)
  mask = batch["mask"]
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
  pred = jnp.argmax(logits, -1)
  num_classes = logits.shape[-1]
  confusion = jnp.zeros((num_classes, num_classes), jnp.float32).at[batch["label"], pred].add(mask)
  return {"loss_sum": jnp.sum(losses * mask), "accuracy_sum": jnp.sum((pred == batch["label"]) * mask),
          "count": jnp.sum(mask), "confusion": confusion}


def params_and_stats(state: TrainState) -> dict[str, Any]:
  return {"params": state.params, "model_state": state.model_state}


def with_params_and_stats(state: TrainState, best: dict[str, Any]) -> TrainState:
  return state.replace(params=best["params"], model_state=best["model_state"])


def classification_task(model: nn.Module, tx: optax.GradientTransformation, *, augment_ops: AugmentOps = (),
                        aux_loss_weight: float = 0.0, log_update_ratio: bool = False, init_from: str = "",
                        init_keep_fresh=(), finish=None) -> Task:
  """The task for ``model`` trained with ``tx``; the best state is the parameters and batch
  statistics with the highest validation accuracy."""

  def init(key, example):
    return create_train_state(model, tx, example["image"][:1], key)

  def transfer(state):
    state, message = init_from_run(state, init_from, init_keep_fresh)
    if jax.process_index() == 0:
      print(message)
    return state

  def step(state, batch, rng, axis_name=None):
    return train_step(state, batch, rng, axis_name, augment_ops, aux_loss_weight, log_update_ratio)

  return Task(init=init, train_step=step, eval_step=eval_step, metric="accuracy", mode="max",
              best=params_and_stats, with_best=with_params_and_stats, start=transfer if init_from else None,
              finish=finish, name="classification")


def init_from_run(state: TrainState, source_workdir: str, keep_fresh=()) -> tuple[TrainState, str]:
  """``state`` with the parameters and model state of ``source_workdir``'s best checkpoint.

  Every leaf is taken from the source at the same path, except those whose path matches a regex in
  ``keep_fresh``; a leaf missing from the source, or of another shape, is an error naming it
  (unless kept fresh). The optimizer state is re-initialised on the new parameters.
  """
  directory = epath.Path(source_workdir) / loop.CHECKPOINT_DIR
  source = CheckpointManager(directory, read_only=True) if directory.exists() else None
  step = source.latest_step() if source else None
  if step is None:
    raise ConfigError(f"train.init_from: no checkpoint in {directory}")
  saved = source.restore_as_saved(step).tree["best"]
  source.close()
  fresh = [re.compile(p) for p in keep_fresh]
  counts = {"copied": 0, "fresh": 0}

  def graft(tree, collection):
    """``tree`` with each leaf replaced by the saved leaf at the same path (relative to the
    collection, as in the optimizer's ``trainable`` / ``frozen`` patterns)."""
    available = dict(leaf_paths(saved[collection]))

    def take(path, leaf):
      if any(p.search(path) for p in fresh):
        counts["fresh"] += 1
        return leaf
      if path not in available:
        raise ConfigError(f"train.init_from: {collection} {path} is not in {directory}; "
                          "add a pattern for it to train.init_keep_fresh")
      if available[path].shape != np.shape(leaf):
        raise ConfigError(f"train.init_from: {collection} {path} is {available[path].shape} there, "
                          f"{np.shape(leaf)} here; add a pattern for it to train.init_keep_fresh")
      counts["copied"] += 1
      return available[path].astype(np.asarray(leaf).dtype)

    pairs = leaf_paths(tree)
    return jax.tree.unflatten(jax.tree.structure(tree), [take(p, x) for p, x in pairs])

  params = graft(state.params, "params")
  state = state.replace(params=params, model_state=graft(state.model_state, "model_state"),
                        opt_state=parallel.to_host(state.tx.init(params)))
  return state, (f"initialised {counts['copied']} arrays from {directory} (step {step}); "
                 f"kept fresh: {counts['fresh']}")


# ---------------------------------------------------------------------------------------------
# From a config to the engine.
# ---------------------------------------------------------------------------------------------


def classification_data(dataset, config: ml_collections.ConfigDict) -> Data:
  """This process's training batches and the three evaluation splits of ``dataset``."""
  t = config.train
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  pi, pc = jax.process_index(), jax.process_count()
  loader = {"workers": config.data.get("workers", 0), "prefetch": config.data.get("prefetch", 0)}
  train_iter = BatchIterator(
      dataset.train, t.batch_size, dataset.num_classes, seed=config.seed, last_batch=t.last_batch,
      process_index=pi, process_count=pc, image_shape=dataset.image_shape, name="train", **loader,
  )

  def split(name):
    return lambda: eval_batches(dataset.split(name), t.eval_batch_size, dataset.num_classes, pi, pc, name, **loader)

  example = {"image": np.zeros((1, *dataset.image_shape), np.float32), "label": np.zeros((1,), np.int32),
             "mask": np.ones((1,), np.float32)}
  return Data(train=train_iter, eval={name: split(name) for name in ("val", "train", "test")},
              example=example, batch_size=t.batch_size)


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, dataset)`` for a classification config; ``with_report`` adds the finished run's
  confusion matrix and summary table (``task.finish``)."""
  check_config(config)
  parallel.initialize()
  t = config.train
  dataset = load_dataset(config.data)
  data = classification_data(dataset, config)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  model = prepare_model(build_model(config.model, dataset.num_classes, t.compute_dtype), t.step)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    if jax.process_index() == 0:
      report.plot_confusion(evals["test"]["confusion"], dataset.class_names, epath.Path(workdir) / CONFUSION_NAME)
      print(report.summary_table([
          ("model", config.model.name), ("data", dataset.name), ("steps", num_steps),
          ("train accuracy", evals["train"]["accuracy"]), ("val accuracy", evals["val"]["accuracy"]),
          ("test accuracy", evals["test"]["accuracy"]), ("test loss", evals["test"]["loss"]),
          ("workdir", str(workdir)),
      ]))
    return {}

  task = classification_task(
      model, tx, augment_ops=parse_augment(config.data.get("augment", "")), aux_loss_weight=t.aux_loss_weight,
      log_update_ratio=t.get("log_update_ratio", False), init_from=t.get("init_from", ""),
      init_keep_fresh=tuple(t.get("init_keep_fresh", ())), finish=finish if with_report else None)
  return task, data, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model`` on ``config.data`` in ``workdir``; returns the final results."""
  task, data, _ = build(config, with_report=True)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """Loss and accuracy of the best parameters of the newest checkpoint in ``workdir`` on ``split``."""
  task, data, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
