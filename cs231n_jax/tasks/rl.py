"""Reinforcement learning as a task: K seeds of one agent trained as one ``jit(vmap(...))`` program.

The task's state is the agents' states stacked over seeds: parameters, optimizer states, the
environments' states and current observations, a replay memory (DQN), episode bookkeeping and the
step counters, so checkpoints, resume (bitwise), SIGTERM and metrics come from the engine. One
training step is one agent iteration for every seed: a ``lax.scan`` over ``num_steps`` environment
steps of ``num_envs`` gymnax environments and the agent's gradient steps; the engine's training
iterator only yields step indices (:class:`cs231n_jax.tasks.copy.StepIndices`). The step's key is
split into one key per seed.

Metrics: the training record holds the seeds' mean and, under ``seed_<k>/``, every seed's own
``episode_return``, ``loss`` and ``env_steps``. Evaluation (``val``: picks the best state; ``test``:
fresh episodes for the reported number) plays ``eval.num_episodes`` episodes per seed with the
greedy policy and reports ``return`` (mean over seeds), ``return_min`` (the worst seed),
``solved_seeds`` (seeds whose mean return >= ``eval.solved_return``) and ``seed_<k>/return``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import envs
from cs231n_jax.rl.dqn import dqn
from cs231n_jax.rl.mdp import check_gamma
from cs231n_jax.rl.policy_gradient import BASELINES, Agent, actor_critic, reinforce
from cs231n_jax.tasks.copy import StepIndices
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import JSONL_NAME, read_jsonl
from cs231n_jax.train.task import Data, Task

AGENTS = ("ppo", "a2c", "reinforce", "dqn")
VAL_SEED_OFFSET = 1_000_003
TEST_SEED_OFFSET = 2_000_003
SEED_METRICS = ("episode_return", "loss", "env_steps")
LAST_METRICS = ("episode_return", "env_steps", "episodes", "epsilon")  # the rest: mean over the engine step


def agent_defaults(name: str) -> ml_collections.ConfigDict:
  """Every field agent ``name`` reads, with purejaxrl-like CartPole defaults."""
  common = {"name": name, "gamma": 0.99, "learning_rate": 2.5e-4, "max_grad_norm": 0.5, "anneal_lr": True,
            "hidden": (64, 64), "activation": "tanh"}
  if name == "ppo":
    extra = {"num_envs": 4, "num_steps": 128, "update_epochs": 4, "num_minibatches": 4, "gae_lambda": 0.95,
             "clip_eps": 0.2, "entropy_coef": 0.01, "value_coef": 0.5, "normalize_advantages": True}
  elif name == "a2c":
    extra = {"num_envs": 16, "num_steps": 8, "gae_lambda": 0.95, "entropy_coef": 0.01, "value_coef": 0.5,
             "normalize_advantages": False, "learning_rate": 1e-3}
  elif name == "reinforce":
    extra = {"num_envs": 8, "rollout_steps": 0, "baseline": "value", "baseline_decay": 0.9, "value_coef": 0.5,
             "normalize_advantages": True, "learning_rate": 1e-3, "anneal_lr": False}
  elif name == "dqn":
    extra = {"num_envs": 4, "steps_per_update": 1, "gradient_steps": 1, "buffer_size": 10_000, "batch_size": 64,
             "learning_starts": 1000, "target_update_every": 125, "epsilon_start": 1.0, "epsilon_end": 0.05,
             "epsilon_fraction": 0.5, "loss": "huber", "hidden": (120, 84), "activation": "relu",
             "max_grad_norm": 10.0}
  else:
    raise ConfigError(f"agent.name: expected one of {AGENTS}, got {name!r}")
  return ml_collections.ConfigDict({**common, **extra})


def base_config(agent: str = "ppo", env: str = "CartPole-v1") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.tasks.rl:run"
  c.seed = 0
  c.num_seeds = 5
  c.updates_per_step = 1  # agent iterations per engine step (a lax.scan), to keep host steps few
  c.env = ml_collections.ConfigDict({"name": env})
  c.agent = agent_defaults(agent)
  c.eval = ml_collections.ConfigDict({"num_episodes": 100, "solved_return": 475.0})
  c.train = loop.engine_config()
  c.train.update({"batch_size": 1, "num_steps": 100, "eval_every": 10, "log_every": 10, "eval_batch_size": 1,
                  "checkpoint_every": 0, "keep_checkpoints": 1, "progress": False})
  return c


def iterations_for(c: ml_collections.ConfigDict, env_steps: int) -> int:
  """Agent iterations (engine steps) that use ``env_steps`` environment steps per seed (PPO, A2C, DQN)."""
  a = c.agent
  per = a.num_envs * (a.num_steps if a.name in ("ppo", "a2c") else a.steps_per_update) * c.updates_per_step
  return math.ceil(env_steps / per)


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  a = config.agent
  if a.name not in AGENTS:
    raise ConfigError(f"agent.name: expected one of {AGENTS}, got {a.name!r}")
  envs.make(config.env.name)
  check_gamma(a.gamma, "agent.gamma")
  for name in ("num_envs", "num_steps", "update_epochs", "num_minibatches", "steps_per_update", "gradient_steps",
               "buffer_size", "batch_size", "target_update_every"):
    if name in a and (isinstance(a[name], bool) or not isinstance(a[name], int) or a[name] < 1):
      raise ConfigError(f"agent.{name}: expected a positive integer, got {a[name]!r}")
  for name in ("num_seeds", "updates_per_step"):
    if isinstance(config[name], bool) or not isinstance(config[name], int) or config[name] < 1:
      raise ConfigError(f"{name}: expected a positive integer, got {config[name]!r}")
  if "gae_lambda" in a and not 0.0 <= a.gae_lambda <= 1.0:
    raise ConfigError(f"agent.gae_lambda: expected a value in [0, 1], got {a.gae_lambda!r}")
  if a.name == "ppo" and (a.num_envs * a.num_steps) % a.num_minibatches:
    raise ConfigError(f"agent.num_minibatches: must divide num_envs * num_steps = {a.num_envs * a.num_steps}, "
                      f"got {a.num_minibatches}")
  if a.name == "reinforce" and a.baseline not in BASELINES:
    raise ConfigError(f"agent.baseline: expected one of {BASELINES}, got {a.baseline!r}")
  if a.name == "dqn" and a.buffer_size < a.batch_size:
    raise ConfigError(f"agent.buffer_size: the replay capacity ({a.buffer_size}) must be at least agent.batch_size "
                      f"({a.batch_size})")
  loop.check_engine_config(config.train)


def build_agent(config: ml_collections.ConfigDict, env: envs.Env) -> Agent:
  a, total = config.agent, config.train.num_steps * config.updates_per_step
  if a.name in ("ppo", "a2c"):
    return actor_critic(env, a, total, clip=a.name == "ppo")
  if a.name == "reinforce":
    return reinforce(env, a, total)
  return dqn(env, a, total)


def per_seed(metrics: Mapping[str, jax.Array], num_seeds: int) -> dict[str, Any]:
  """The seeds' mean of every metric, and ``seed_<k>/<name>`` for the ``SEED_METRICS``."""
  out: dict[str, Any] = {k: jnp.mean(v.astype(jnp.float32)) for k, v in metrics.items()}
  for k in range(num_seeds):
    out[f"seed_{k}"] = {m: metrics[m][k].astype(jnp.float32) for m in SEED_METRICS if m in metrics}
  return out


def rl_task(agent: Agent, env: envs.Env, config: ml_collections.ConfigDict) -> Task:
  K, n_eval, inner = config.num_seeds, config.eval.num_episodes, config.updates_per_step
  solved = float(config.eval.solved_return)

  def init(key, example):
    del example
    return jax.vmap(agent.init)(jax.random.split(key, K))

  def train_step(state, batch, key, axis_name=None):
    del batch, axis_name

    def one(state, key):
      return jax.vmap(agent.update)(state, jax.random.split(key, K))

    state, metrics = jax.lax.scan(one, state, jax.random.split(key, inner))
    metrics = {k: (v[-1] if k in LAST_METRICS else v.mean(0)) for k, v in metrics.items()}
    return state, per_seed(metrics, K)

  def eval_step(state, batch):
    keys = jax.vmap(lambda k: jax.random.fold_in(jax.random.PRNGKey(0), k))(batch["key"][0] + jnp.arange(K))
    returns = jax.vmap(lambda p, k: envs.evaluate(env, agent.act, p, k, n_eval))(agent.params(state), keys)
    return {"return_sum": returns.sum(-1), "count": jnp.full((K,), n_eval, jnp.float32),
            "env_steps": state["env_steps"].astype(jnp.float32)}

  def summarize(total):
    per = np.asarray(total["return_sum"]) / np.asarray(total["count"])
    out = {"return": float(per.mean()), "return_min": float(per.min()), "solved_seeds": float(np.sum(per >= solved))}
    steps = np.asarray(total["env_steps"])
    out["env_steps"] = float(steps.mean())
    out.update({f"seed_{k}": {"return": float(per[k]), "env_steps": float(steps[k])} for k in range(K)})
    return out

  def finish(state, evals, workdir):
    del state, evals
    return solved_steps(read_jsonl(epath.Path(workdir) / JSONL_NAME), K, solved)

  return Task(init=init, train_step=train_step, eval_step=eval_step, summarize=summarize, metric="return",
              mode="max", best=agent.params, with_best=agent.with_params, finish=finish, name=f"rl_{agent.name}")


def solved_steps(records: list[dict], num_seeds: int, solved_return: float) -> dict[str, Any]:
  """From a run's metrics: for every seed the environment steps it had taken (its own count, recorded
  with every validation) at the first validation whose mean return reached ``solved_return`` (None if
  never), and how many seeds got there."""
  out: dict[str, Any] = {}
  for k in range(num_seeds):
    first = next((r for r in records if r.get("split") == "val" and r.get(f"seed_{k}/return", -math.inf) >= solved_return),
                 None)
    out[f"seed_{k}_solved_at_env_steps"] = None if first is None else first.get(f"seed_{k}/env_steps")
    out[f"seed_{k}_solved_at_step"] = None if first is None else first["step"]
  out["seeds_solved"] = sum(out[f"seed_{k}_solved_at_step"] is not None for k in range(num_seeds))
  return out


def rl_data(config: ml_collections.ConfigDict, steps_per_update: int) -> Data:
  def split(offset):
    return lambda: [{"key": np.array([config.seed + offset], np.int32)}]

  evals = {"val": split(VAL_SEED_OFFSET), "test": split(TEST_SEED_OFFSET)}
  # "batch_size" counts environment steps of all seeds per engine step, so the engine's examples/s is env steps/s
  return Data(train=StepIndices(1, config.train.eval_every or 100), eval=evals,
              example={"index": np.arange(1, dtype=np.int32)}, batch_size=steps_per_update * config.num_seeds * config.updates_per_step)


def build(config: ml_collections.ConfigDict) -> tuple[Task, Data, Agent, envs.Env]:
  check_config(config)
  env = envs.make(config.env.name)
  agent = build_agent(config, env)
  return rl_task(agent, env, config), rl_data(config, agent.env_steps_per_update), agent, env


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.num_seeds`` seeds of ``config.agent.name`` on ``config.env.name`` (one program)."""
  task, data, _, _ = build(config)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  task, data, _, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)


# ---------------------------------------------------------------------------------------------
# The recurrent attention model (cs231n_jax.rl.attention) as an engine task: digits on canvases.
# ---------------------------------------------------------------------------------------------

EVAL_SEEDS = {"val": 11, "test": 12}


def attention_config(locations: str = "policy") -> ml_collections.ConfigDict:
  """Every field :func:`run_attention` reads. ``locations="random"``: the baseline with every glimpse
  at a uniformly random place (the classifier still trained by backprop)."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.tasks.rl:run_attention"
  c.seed = 0
  c.data = ml_collections.ConfigDict({"canvas_size": 32, "eval_placements": 5})
  c.model = ml_collections.ConfigDict({"glimpse_size": 8, "num_scales": 3, "num_glimpses": 4, "hidden": 256,
                                       "glimpse_hidden": 128, "location_std": 0.15, "locations": locations})
  c.optimizer = ml_collections.ConfigDict({"learning_rate": 1e-3, "max_grad_norm": 5.0, "schedule": "constant"})
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 6000, "eval_every": 1000, "log_every": 100, "eval_batch_size": 600,
                  "checkpoint_every": 0, "keep_checkpoints": 1, "progress": False})
  return c


def check_attention_config(c: ml_collections.ConfigDict) -> None:
  from cs231n_jax.rl.attention import LOCATIONS

  m = c.model
  for name in ("glimpse_size", "num_scales", "num_glimpses", "hidden", "glimpse_hidden"):
    if isinstance(m[name], bool) or not isinstance(m[name], int) or m[name] < 1:
      raise ConfigError(f"model.{name}: expected a positive integer, got {m[name]!r}")
  if m.locations not in LOCATIONS:
    raise ConfigError(f"model.locations: expected one of {LOCATIONS}, got {m.locations!r}")
  if not m.location_std > 0:
    raise ConfigError(f"model.location_std: expected a positive number, got {m.location_std!r}")
  if c.optimizer.schedule not in ("constant", "cosine"):
    raise ConfigError(f"optimizer.schedule: expected 'constant' or 'cosine', got {c.optimizer.schedule!r}")
  if c.data.canvas_size < 8:
    raise ConfigError(f"data.canvas_size: expected at least the digits' size 8, got {c.data.canvas_size!r}")
  if c.data.eval_placements < 1:
    raise ConfigError(f"data.eval_placements: expected a positive integer, got {c.data.eval_placements!r}")
  loop.check_engine_config(c.train)


def attention_sources(c: ml_collections.ConfigDict):
  """The digits (scaled to [0, 1]) of the digits split as array sources: train (pasted at random
  places by each training step), and val / test (each digit ``eval_placements`` times at places
  drawn once with a fixed seed)."""
  from cs231n_jax.data import digits as D
  from cs231n_jax.data.pipeline import ArraySource

  images, labels = D.raw_digits()
  images = images / D.MAX_INTENSITY
  tr, va, te = D.split_indices()
  size = c.data.canvas_size
  out = {"train": ArraySource({"image": images[tr], "label": labels[tr]})}
  for name, idx in (("val", va), ("test", te)):
    idx = np.repeat(idx, c.data.eval_placements)
    rng = np.random.default_rng(EVAL_SEEDS[name])
    out[name] = ArraySource({"image": images[idx], "label": labels[idx],
                             "position": rng.integers(0, size - 8 + 1, (len(idx), 2)).astype(np.int32),
                             "index": np.arange(len(idx), dtype=np.int32)})
  return out


def attention_task(c: ml_collections.ConfigDict) -> Task:
  import optax

  from cs231n_jax.rl import attention as A

  m = c.model
  model = A.RecurrentAttention(num_glimpses=m.num_glimpses, glimpse_size=m.glimpse_size, num_scales=m.num_scales,
                               hidden=m.hidden, glimpse_hidden=m.glimpse_hidden, location_std=m.location_std,
                               locations=m.locations)
  learn_locations = m.locations == "policy"
  o = c.optimizer
  lr = optax.cosine_decay_schedule(o.learning_rate, c.train.num_steps) if o.schedule == "cosine" else o.learning_rate
  tx = optax.chain(optax.clip_by_global_norm(o.max_grad_norm), optax.adam(lr))
  size = c.data.canvas_size

  def init(key, example):
    del example
    params = model.init(key, jnp.zeros((1, size, size)))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    del axis_name
    k_place, k_model = jax.random.split(key)
    digits = jnp.asarray(batch["image"])
    canvases = A.paste(digits, A.random_positions(k_place, digits.shape[0], size, digits.shape[1]), size)

    def loss_fn(params):
      out = model.apply({"params": params}, canvases, k_model, sample=True)
      return A.losses(out, batch["label"], batch["mask"], reinforce=learn_locations)

    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, {"loss": loss, **metrics}

  def eval_step(state, batch):
    canvases = A.paste(jnp.asarray(batch["image"]), batch["position"], size)
    # random locations (the "random" model, and the learned model's glimpses moved at random) are
    # drawn per example from its index, so every evaluation of a split sees the same ones
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(c.seed + 99), i))(batch["index"])
    one = lambda m, x, k: m.apply({"params": state["params"]}, x[None], k, sample=False)["logits"][0, -1]
    logits = jax.vmap(lambda x, k: one(model, x, k))(canvases, keys)
    shuffled = model.clone(locations="random")
    logits_random = jax.vmap(lambda x, k: one(shuffled, x, k))(canvases, keys)
    mask = batch["mask"]
    hit = lambda lg: jnp.sum((jnp.argmax(lg, -1) == batch["label"]) * mask)
    return {"accuracy_sum": hit(logits), "random_locations_accuracy_sum": hit(logits_random), "count": jnp.sum(mask)}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="accuracy", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p},
              name=f"recurrent_attention_{m.locations}")


def attention_data(c: ml_collections.ConfigDict) -> Data:
  from cs231n_jax.data.pipeline import BatchIterator, eval_batches

  src = attention_sources(c)
  train = BatchIterator(src["train"], c.train.batch_size, seed=c.seed, last_batch="drop", name="train")
  evals = {name: (lambda name=name: eval_batches(src[name], c.train.eval_batch_size, name=name)) for name in ("val", "test")}
  example = {"image": np.zeros((1, 8, 8), np.float32), "label": np.zeros((1,), np.int32), "mask": np.ones((1,), np.float32)}
  return Data(train=train, eval=evals, example=example, batch_size=c.train.batch_size)


def run_attention(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the recurrent attention model on digits pasted on ``data.canvas_size`` canvases."""
  check_attention_config(config)
  return loop.fit(attention_task(config), attention_data(config), config, workdir)


# ---------------------------------------------------------------------------------------------
# The Gymnasium adapter: PPO / A2C on a Gymnasium environment, the engine's host step.
# ---------------------------------------------------------------------------------------------


def gym_config(agent: str = "ppo", env: str = "CartPole-v1") -> ml_collections.ConfigDict:
  """Every field :func:`run_gym` reads: PPO or A2C on Gymnasium environment ``env`` (one seed; the
  environments are Python objects stepped on the host, so ``train.step`` is ``"host"``)."""
  if agent not in ("ppo", "a2c"):
    raise ConfigError(f"agent.name: the Gymnasium adapter trains 'ppo' or 'a2c', got {agent!r}")
  c = base_config(agent, env)
  c.runner = "cs231n_jax.tasks.rl:run_gym"
  c.num_seeds = 1
  c.eval.num_episodes = 20
  c.train.step = "host"
  return c


def gym_task(config: ml_collections.ConfigDict) -> Task:
  """The host-step task: each engine step rolls the policy out in ``agent.num_envs`` Gymnasium
  environments for ``agent.num_steps`` steps (Python loop, one compiled policy call per step) and
  runs the agent's compiled update on the trajectory. The Gymnasium environments live outside the
  task's state: a resumed run starts fresh episodes (seeded from its step), so unlike the gymnax
  runs its resume is not bitwise."""
  from cs231n_jax.rl import gym_adapter as G
  from cs231n_jax.rl.policy_gradient import actor_critic_learner

  a = config.agent
  if a.name not in ("ppo", "a2c"):
    raise ConfigError(f"agent.name: the Gymnasium adapter trains 'ppo' or 'a2c', got {a.name!r}")
  if config.train.step != "host":
    raise ConfigError(f"train.step: a Gymnasium environment is stepped on the host; expected 'host', got {config.train.step!r}")
  spec = G.spec(config.env.name)
  net, tx, learn = actor_critic_learner(spec, a, config.train.num_steps, clip=a.name == "ppo")
  host = G.HostEnvs(config.env.name, a.num_envs)

  @jax.jit
  def policy(params, obs, key):
    logits, value = net.apply({"params": params}, obs)
    action = jax.random.categorical(key, logits).astype(jnp.int32)
    return action, jax.nn.log_softmax(logits)[jnp.arange(action.shape[0]), action], value

  value = jax.jit(lambda params, obs: net.apply({"params": params}, obs)[1])
  act = jax.jit(lambda params, obs: jnp.argmax(net.apply({"params": params}, obs)[0], -1).astype(jnp.int32))
  learn = jax.jit(learn)

  def init(key, example):
    del example
    params = net.init(key, jnp.zeros((1, spec.obs_size)))["params"]
    return {"params": params, "opt_state": tx.init(params), "env_steps": jnp.zeros((), jnp.int32)}

  def train_step(state, batch, key, axis_name=None):
    del batch, axis_name
    k_reset, k_roll, k_perm = jax.random.split(key, 3)
    if host.obs is None:  # the first step of this process (a new run or a resumed one)
      host.reset(int(jax.random.randint(k_reset, (), 0, 2 ** 30)))
    traj, obs = G.rollout(host, policy, value, state["params"], k_roll, a.num_steps)
    params, opt_state, (loss, pg, v_loss, entropy) = learn(state["params"], state["opt_state"], traj,
                                                           value(state["params"], obs), k_perm)
    env_steps = state["env_steps"] + a.num_steps * a.num_envs
    metrics = {"loss": loss.mean(), "policy_loss": pg.mean(), "value_loss": v_loss.mean(), "entropy": entropy.mean(),
               "episode_return": float(host.last.mean()), "episodes": float(host.finished), "env_steps": env_steps}
    return {"params": params, "opt_state": opt_state, "env_steps": env_steps}, metrics

  def eval_step(state, batch):
    seed = int(batch["key"][0])
    returns = G.evaluate(config.env.name, act, state["params"], seed, config.eval.num_episodes)
    return {"return_sum": float(returns.sum()), "count": float(len(returns)), "env_steps_sum": float(state["env_steps"]) * len(returns)}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="return", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, name=f"gym_{a.name}")


def run_gym(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.agent.name`` (PPO or A2C) on Gymnasium environment ``config.env.name`` through
  the engine's host step."""
  check_gamma(config.agent.gamma, "agent.gamma")
  loop.check_engine_config(config.train)
  task = gym_task(config)
  data = rl_data(config, config.agent.num_envs * config.agent.num_steps)
  return loop.fit(task, data, config, workdir)
