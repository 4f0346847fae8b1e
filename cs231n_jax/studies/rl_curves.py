"""Learning curves of RL runs from their metrics: every seed's greedy evaluation return against its
environment steps (the seeds' own counts, recorded with every validation), mean and spread over seeds.

``python -m cs231n_jax.studies.rl_curves OUT.png WORKDIR[:ENV_STEPS_PER_STEP] ... [--solved=RETURN]`` (one panel per
run; the dashed line at RETURN, 475 unless given);
``python -m cs231n_jax.studies.rl_curves OUT.py WORKDIR[:ENV_STEPS_PER_STEP] ...`` writes the curves as a
Python module instead (``cs231n_jax/rl/measured.py``, which the notebook draws)."""

from __future__ import annotations

import sys

import numpy as np
from etils import epath

from cs231n_jax import plotting
from cs231n_jax.train.metrics import JSONL_NAME, read_jsonl


def curves(workdir, env_steps_per_step: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
  """(env steps [evals, seeds], returns [evals, seeds]) of a run's validations; a run whose
  validations did not record the seeds' counts uses ``step * env_steps_per_step``."""
  val = [r for r in read_jsonl(epath.Path(workdir) / JSONL_NAME) if r.get("split") == "val"]
  seeds = sorted({int(k.split("/")[0][5:]) for r in val for k in r if k.startswith("seed_") and k.endswith("/return")})
  steps = np.array([[r.get(f"seed_{k}/env_steps", r["step"] * env_steps_per_step) for k in seeds] for r in val], float)
  returns = np.array([[r[f"seed_{k}/return"] for k in seeds] for r in val], float)
  return steps, returns


def plot(workdirs, out, solved: float | None = 475.0):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, len(workdirs), figsize=(4 * len(workdirs), 3.2), squeeze=False)
  for ax, spec in zip(axes[0], workdirs):
    wd, _, per = str(spec).partition(":")
    steps, returns = curves(wd, float(per or 0))
    x = np.nanmean(steps, 1)
    ax.plot(x, returns, lw=0.8, alpha=0.5)
    ax.plot(x, returns.mean(1), "k", lw=2, label="mean of seeds")
    ax.fill_between(x, returns.min(1), returns.max(1), color="grey", alpha=0.2, label="min-max")
    if solved is not None:
      ax.axhline(solved, ls="--", color="r", lw=0.8)
    ax.set_title(epath.Path(wd).name)
    ax.set_xlabel("environment steps per seed")
  axes[0][0].set_ylabel("greedy return (100 episodes)")
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  plotting.save_figure(fig, out, dpi=110)
  plt.close(fig)


def export(workdirs, out) -> None:
  """Write every run's curves (per-seed env steps and greedy returns at each validation) as a Python
  module holding one dict, ``CURVES[run name] = {"env_steps": [[...]], "returns": [[...]]}``."""
  lines = ["# ruff: noqa: E501", '"""Measured learning curves (greedy return of 100 episodes per seed at every validation) of the',
           f'full runs, written by ``python -m cs231n_jax.studies.rl_curves {out} {" ".join(map(str, workdirs))}``;',
           'the runs and their commands: docs/results.md, section "Lecture 14"."""', "", "CURVES = {"]
  for spec in workdirs:
    wd, _, per = str(spec).partition(":")
    steps, returns = curves(wd, float(per or 0))
    lines.append(f"    {epath.Path(wd).name!r}: {{")
    lines.append(f"        'env_steps': {np.round(steps).astype(int).T.tolist()!r},")
    lines.append(f"        'returns': {np.round(returns, 1).T.tolist()!r},")
    lines.append("    },")
  lines.append("}")
  epath.Path(out).write_text("\n".join(lines) + "\n")


def main(argv) -> None:
  """``OUT WORKDIR[:ENV_STEPS_PER_STEP] ... [--solved=RETURN]`` (the dashed line of a figure; 475 unless given)."""
  solved = [a for a in argv if a.startswith("--solved=")]
  args = [a for a in argv if not a.startswith("--solved=")]
  if args[0].endswith(".py"):
    export(args[1:], args[0])
  else:
    plot(args[1:], args[0], float(solved[-1].split("=", 1)[1]) if solved else 475.0)


if __name__ == "__main__":
  main(sys.argv[1:])
