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
