"""Speed of compiled RL, in one run on one machine (every row in the same process, one after another):

- **environment steps per second**: gymnax CartPole-v1 compiled (``jit`` of a ``lax.scan`` over steps,
  ``vmap`` over environments, random actions) against Gymnasium's CartPole-v1 stepped from a Python
  loop (random actions, reset on an episode's end);
- **whole training runs**: PPO on CartPole-v1 for ``ppo_updates`` iterations, a run being
  ``train(key) = scan(update, init(key))`` (the agent of :mod:`cs231n_jax.rl.policy_gradient`, the
  same functions the engine task vmaps):
  ``K`` seeds as one ``jit(vmap(train))`` program against the same ``K`` seeds run one after another
  (one compiled ``jit(train)`` called ``K`` times), both from the start of the runs to their end;
- **one seed, three ways**: the compiled run above; the Gymnasium adapter (Gymnasium CartPole on the
  host, the same compiled JAX policy and update, :mod:`cs231n_jax.rl.gym_adapter`); and a
  CleanRL-style loop (Gymnasium's ``SyncVectorEnv`` on the host, a PyTorch policy, CleanRL ``ppo.py``'s
  algorithm and settings). torch is optional (the 'bench' extra): without it that row is skipped with the reason
  printed.

Compile time is measured apart (``jit(...).lower(...).compile()``) and reported; "run" times exclude it.
The host loops are timed over ``ppo_updates`` iterations after one untimed warm-up iteration (which
compiles the adapter's functions). These are benchmarks of this machine at this moment: ratios from
one run, not properties of the code; no test asserts a time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.rl import envs
from cs231n_jax.rl.policy_gradient import actor_critic
from cs231n_jax.tasks import rl


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.rl_speed:run"
  c.seed = 0
  c.env_name = "CartPole-v1"
  c.gymnasium_steps = 20_000
  c.gymnax_envs = (1, 64, 1024)
  c.gymnax_steps = 1000        # steps of every environment in one compiled call
  c.ppo_seeds = 8              # K
  c.ppo_updates = 40           # iterations of every run (num_envs * num_steps environment steps each)
  c.ppo = rl.agent_defaults("ppo")
  c.torch_threads = 0          # 0: torch's default
  return c


# ---------------------------------------------------------------------------------------------
# environment steps per second
# ---------------------------------------------------------------------------------------------


def gymnasium_steps_per_second(name: str, steps: int, seed: int) -> float:
  import gymnasium

  env = gymnasium.make(name)
  env.reset(seed=seed)
  rng = np.random.default_rng(seed)
  start = time.perf_counter()
  for _ in range(steps):
    _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
    if terminated or truncated:
      env.reset()
  return steps / (time.perf_counter() - start)


def gymnax_steps_per_second(e: envs.Env, num_envs: int, steps: int, seed: int) -> tuple[float, float]:
  """(steps/s, compile seconds) of ``steps`` random-action steps of ``num_envs`` environments."""

  def run(key):
    k0, key = jax.random.split(key)
    obs, state = envs.reset(e, k0, num_envs)

    def one(carry, key):
      state, obs, total = carry
      ka, ks = jax.random.split(key)
      t = envs.step(e, ks, state, obs, jax.random.randint(ka, (num_envs,), 0, e.num_actions))
      return (t.env_state, t.next_obs, total + t.reward.sum()), None

    return jax.lax.scan(one, (state, obs, jnp.zeros(())), jax.random.split(key, steps))[0][2]

  compiled, compile_s = _compile(run, jax.random.PRNGKey(seed))
  start = time.perf_counter()
  compiled(jax.random.PRNGKey(seed + 1)).block_until_ready()
  return num_envs * steps / (time.perf_counter() - start), compile_s


def _compile(fn, *args):
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  return compiled, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# whole runs: K seeds as one program against K runs one after another
# ---------------------------------------------------------------------------------------------


def whole_run(agent, num_updates: int):
  """``train(key) -> (final state, per-iteration metrics)``: a whole run as one function."""

  def train(key):
    k_init, k_run = jax.random.split(key)
    return jax.lax.scan(agent.update, agent.init(k_init), jax.random.split(k_run, num_updates))

  return train


def whole_runs(agent, num_updates: int, keys: jax.Array) -> dict[str, Any]:
  """The same ``len(keys)`` runs two ways. Returns compile / run seconds of both, and each seed's
  training episode return at the end (the two ways train the same seeds: these should agree)."""
  train = whole_run(agent, num_updates)
  K = keys.shape[0]
  vmapped, vm_compile = _compile(jax.vmap(train), keys)
  start = time.perf_counter()
  _, m = jax.block_until_ready(vmapped(keys))
  vm_run = time.perf_counter() - start
  one, one_compile = _compile(train, keys[0])
  start = time.perf_counter()
  seq = [jax.block_until_ready(one(keys[k]))[1] for k in range(K)]
  seq_run = time.perf_counter() - start
  return {"vmapped_compile_s": vm_compile, "vmapped_run_s": vm_run, "one_seed_compile_s": one_compile,
          "sequential_run_s": seq_run, "one_seed_run_s": seq_run / K,
          "vmapped_final_return": np.asarray(m["episode_return"][:, -1]).tolist(),
          "sequential_final_return": [float(s["episode_return"][-1]) for s in seq]}


# ---------------------------------------------------------------------------------------------
# one seed on the host: the Gymnasium adapter (JAX policy) and a CleanRL-style PyTorch loop
# ---------------------------------------------------------------------------------------------


def adapter_run_s(config: ml_collections.ConfigDict, num_updates: int) -> tuple[float, float]:
  """Seconds for ``num_updates`` iterations of PPO through the Gymnasium adapter's host step (after
  one warm-up iteration that compiles), and the last episode return seen."""
  c = rl.gym_config("ppo", config.env_name)
  c.agent = config.ppo
  c.train.num_steps = num_updates + 1
  task = rl.gym_task(c)
  state = task.init(jax.random.PRNGKey(config.seed), None)
  state, m = task.train_step(state, None, jax.random.PRNGKey(0))
  jax.block_until_ready(state)
  start = time.perf_counter()
  for i in range(num_updates):
    state, m = task.train_step(state, None, jax.random.PRNGKey(i + 1))
  jax.block_until_ready(state)
  return time.perf_counter() - start, float(m["episode_return"])


def cleanrl_torch_run_s(config: ml_collections.ConfigDict, num_updates: int) -> tuple[float, float, int]:
  """Seconds for ``num_updates`` iterations of a CleanRL-style PPO (``ppo.py``: Gymnasium
  ``SyncVectorEnv``, a PyTorch 64-64 tanh actor and critic, GAE, clipped surrogate, the settings of
  ``config.ppo``) after one warm-up iteration, the last episode return seen, and torch's threads.
  A timing baseline only: nothing here is used to train a reported model."""
  import gymnasium
  import torch
  from torch import nn

  a = config.ppo
  if config.torch_threads:
    torch.set_num_threads(config.torch_threads)
  torch.manual_seed(config.seed)
  kwargs = {}
  if hasattr(gymnasium.vector, "AutoresetMode"):  # reset in the step that ends an episode, as gymnax does
    kwargs["autoreset_mode"] = gymnasium.vector.AutoresetMode.SAME_STEP
  vec = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make(config.env_name) for _ in range(a.num_envs)], **kwargs)
  obs_size, num_actions = int(np.prod(vec.single_observation_space.shape)), int(vec.single_action_space.n)

  def layer(i, o, std=np.sqrt(2)):
    lin = nn.Linear(i, o)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.constant_(lin.bias, 0.0)
    return lin

  h1, h2 = a.hidden
  critic = nn.Sequential(layer(obs_size, h1), nn.Tanh(), layer(h1, h2), nn.Tanh(), layer(h2, 1, 1.0))
  actor = nn.Sequential(layer(obs_size, h1), nn.Tanh(), layer(h1, h2), nn.Tanh(), layer(h2, num_actions, 0.01))
  params = list(critic.parameters()) + list(actor.parameters())
  opt = torch.optim.Adam(params, lr=a.learning_rate, eps=1e-5)
  T, N, batch = a.num_steps, a.num_envs, a.num_steps * a.num_envs
  mb = batch // a.num_minibatches
  total = num_updates + 1
  next_obs = torch.tensor(vec.reset(seed=config.seed)[0], dtype=torch.float32)
  next_done = torch.zeros(N)
  running, last = np.zeros(N), np.zeros(N)

  def iteration(u):
    nonlocal next_obs, next_done
    if a.anneal_lr:
      opt.param_groups[0]["lr"] = (1.0 - u / total) * a.learning_rate
    obs, actions, logps, rewards, dones, values = (torch.zeros((T, N) + s) for s in ((obs_size,), (), (), (), (), ()))
    for t in range(T):
      obs[t], dones[t] = next_obs, next_done
      with torch.no_grad():
        dist = torch.distributions.Categorical(logits=actor(next_obs))
        action = dist.sample()
        logps[t], values[t], actions[t] = dist.log_prob(action), critic(next_obs)[:, 0], action
      o, r, term, trunc, _ = vec.step(action.numpy())
      running[:] += r
      done = np.logical_or(term, trunc)
      last[done], running[done] = running[done], 0.0
      rewards[t] = torch.tensor(r, dtype=torch.float32)
      next_obs, next_done = torch.tensor(o, dtype=torch.float32), torch.tensor(done, dtype=torch.float32)
    with torch.no_grad():  # GAE, as CleanRL (which also bootstraps nothing through a truncation)
      next_value = critic(next_obs)[:, 0]
      adv, last_adv = torch.zeros_like(rewards), 0.0
      for t in reversed(range(T)):
        nonterminal = 1.0 - (next_done if t == T - 1 else dones[t + 1])
        nv = next_value if t == T - 1 else values[t + 1]
        delta = rewards[t] + a.gamma * nv * nonterminal - values[t]
        adv[t] = last_adv = delta + a.gamma * a.gae_lambda * nonterminal * last_adv
      returns = adv + values
    b_obs, b_act, b_logp = obs.reshape(batch, obs_size), actions.reshape(batch).long(), logps.reshape(batch)
    b_adv, b_ret = adv.reshape(batch), returns.reshape(batch)
    for _ in range(a.update_epochs):
      perm = torch.randperm(batch)
      for s in range(0, batch, mb):
        i = perm[s:s + mb]
        dist = torch.distributions.Categorical(logits=actor(b_obs[i]))
        ratio = torch.exp(dist.log_prob(b_act[i]) - b_logp[i])
        ad = b_adv[i]
        if a.normalize_advantages:
          ad = (ad - ad.mean()) / (ad.std() + 1e-8)
        pg = torch.max(-ad * ratio, -ad * torch.clamp(ratio, 1 - a.clip_eps, 1 + a.clip_eps)).mean()
        v_loss = 0.5 * ((critic(b_obs[i])[:, 0] - b_ret[i]) ** 2).mean()
        loss = pg + a.value_coef * v_loss - a.entropy_coef * dist.entropy().mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, a.max_grad_norm)
        opt.step()

  iteration(0)
  start = time.perf_counter()
  for u in range(1, total):
    iteration(u)
  seconds = time.perf_counter() - start
  vec.close()
  return seconds, float(last.mean()), torch.get_num_threads()


# ---------------------------------------------------------------------------------------------


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  e = envs.make(config.env_name)
  out: dict[str, Any] = {"device": str(jax.devices()[0]), "env": config.env_name}
  gym_sps = gymnasium_steps_per_second(config.env_name, config.gymnasium_steps, config.seed)
  out["gymnasium_python_loop_steps_per_s"] = gym_sps
  for n in config.gymnax_envs:
    sps, comp = gymnax_steps_per_second(e, n, config.gymnax_steps, config.seed)
    out[f"gymnax_{n}_envs_steps_per_s"], out[f"gymnax_{n}_envs_compile_s"] = sps, comp
    out[f"gymnax_{n}_envs_vs_gymnasium"] = sps / gym_sps

  K, U, a = config.ppo_seeds, config.ppo_updates, config.ppo
  steps = U * a.num_envs * a.num_steps  # environment steps of one run
  agent = actor_critic(e, a, U, clip=True)
  keys = jax.random.split(jax.random.PRNGKey(config.seed), K)
  w = whole_runs(agent, U, keys)
  out.update({"ppo_seeds": K, "ppo_updates": U, "ppo_env_steps_per_run": steps})
  out.update({f"whole_run_{k}": v for k, v in w.items()})
  out["whole_run_vmapped_vs_sequential"] = w["sequential_run_s"] / w["vmapped_run_s"]
  out["whole_run_vmapped_vs_sequential_with_compile"] = ((w["one_seed_compile_s"] + w["sequential_run_s"]) /
                                                        (w["vmapped_compile_s"] + w["vmapped_run_s"]))
  out["whole_run_vmapped_env_steps_per_s"] = K * steps / w["vmapped_run_s"]
  out["whole_run_one_seed_env_steps_per_s"] = steps / w["one_seed_run_s"]

  ad_s, ad_ret = adapter_run_s(config, U)
  out.update({"adapter_run_s": ad_s, "adapter_env_steps_per_s": steps / ad_s, "adapter_last_return": ad_ret,
              "compiled_one_seed_vs_adapter": ad_s / w["one_seed_run_s"]})
  try:
    import torch  # noqa: F401
  except ImportError as err:
    out["cleanrl_torch_skipped"] = f"torch is not installed ({err}); install the 'bench' extra (torch) for this row"
    print(f"CleanRL-style PyTorch row skipped: {out['cleanrl_torch_skipped']}")
  else:
    t_s, t_ret, threads = cleanrl_torch_run_s(config, U)
    out.update({"cleanrl_torch_run_s": t_s, "cleanrl_torch_env_steps_per_s": steps / t_s,
                "cleanrl_torch_last_return": t_ret, "cleanrl_torch_threads": threads,
                "compiled_one_seed_vs_cleanrl_torch": t_s / w["one_seed_run_s"],
                "vmapped_k_seeds_vs_cleanrl_torch_k_runs": K * t_s / w["vmapped_run_s"],
                "adapter_vs_cleanrl_torch": t_s / ad_s})
  (workdir / "results.json").write_text(json.dumps(out, indent=2))
  (workdir / "table.md").write_text(table(out))
  for k, v in out.items():
    print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
  print(table(out))
  return out


def table(r: dict[str, Any]) -> str:
  """The results as two Markdown tables (environment steps/s; PPO runs)."""
  g = r["gymnasium_python_loop_steps_per_s"]
  lines = ["| environment stepping (random actions) | env steps / s | vs Gymnasium loop |", "|---|---|---|",
           f"| Gymnasium {r['env']}, Python loop | {g:,.0f} | 1 |"]
  for key in sorted((k for k in r if k.startswith("gymnax_") and k.endswith("_steps_per_s")), key=lambda k: int(k.split("_")[1])):
    n = key.split("_")[1]
    how = "jit(scan), 1 environment" if n == "1" else f"jit(scan(vmap)), {n} environments"
    lines.append(f"| gymnax {r['env']}, {how} | {r[key]:,.0f} | {r[key] / g:.1f}x |")
  K, U, S = r["ppo_seeds"], r["ppo_updates"], r["ppo_env_steps_per_run"]
  lines += ["", f"PPO, {U} iterations = {S:,} environment steps per seed ({K} seeds where it says so):", "",
            "| how | seeds | compile s | run s | env steps / s | last training return |", "|---|---|---|---|---|---|",
            f"| one jit(vmap(train)) program | {K} | {r['whole_run_vmapped_compile_s']:.1f} | {r['whole_run_vmapped_run_s']:.2f} | "
            f"{r['whole_run_vmapped_env_steps_per_s']:,.0f} | {np.mean(r['whole_run_vmapped_final_return']):.1f} (mean) |",
            f"| jit(train) run {K} times, one after another | {K} | {r['whole_run_one_seed_compile_s']:.1f} | "
            f"{r['whole_run_sequential_run_s']:.2f} | {K * S / r['whole_run_sequential_run_s']:,.0f} | "
            f"{np.mean(r['whole_run_sequential_final_return']):.1f} (mean) |",
            f"| jit(train), one seed (one of the {K} above) | 1 | (same) | {r['whole_run_one_seed_run_s']:.2f} | "
            f"{r['whole_run_one_seed_env_steps_per_s']:,.0f} | |",
            f"| Gymnasium adapter: host Gymnasium, compiled JAX policy and update | 1 | (first iteration) | "
            f"{r['adapter_run_s']:.2f} | {r['adapter_env_steps_per_s']:,.0f} | {r['adapter_last_return']:.1f} |"]
  if "cleanrl_torch_run_s" in r:
    threads = f"{r['cleanrl_torch_threads']} thread{'' if r['cleanrl_torch_threads'] == 1 else 's'}"
    lines.append(f"| CleanRL-style: host Gymnasium SyncVectorEnv, PyTorch policy ({threads}) | 1 | "
                 f"none | {r['cleanrl_torch_run_s']:.2f} | {r['cleanrl_torch_env_steps_per_s']:,.0f} | "
                 f"{r['cleanrl_torch_last_return']:.1f} |")
  else:
    lines.append(f"| CleanRL-style PyTorch loop | skipped: {r['cleanrl_torch_skipped']} | | | | |")
  lines += ["", f"- {K} seeds as one program vs one after another (run time): "
            f"{r['whole_run_vmapped_vs_sequential']:.2f}x; counting each side's compile: "
            f"{r['whole_run_vmapped_vs_sequential_with_compile']:.2f}x",
            f"- one seed compiled vs the Gymnasium adapter: {r['compiled_one_seed_vs_adapter']:.1f}x"]
  if "cleanrl_torch_run_s" in r:
    lines += [f"- one seed compiled vs the CleanRL-style PyTorch loop: {r['compiled_one_seed_vs_cleanrl_torch']:.1f}x; "
              f"the Gymnasium adapter vs it: {r['adapter_vs_cleanrl_torch']:.2f}x",
              f"- {K} seeds as one program vs {K} CleanRL-style runs one after another: "
              f"{r['vmapped_k_seeds_vs_cleanrl_torch_k_runs']:.1f}x"]
  return "\n".join(lines) + "\n"
