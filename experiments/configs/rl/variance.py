"""Variance of the REINFORCE estimators on gymnax CartPole-v1 at a fixed policy (the agents' MLP actor
at its initialisation), with 95% bootstrap confidence intervals: r(tau) (P17), reward-to-go (P18),
discounted reward-to-go minus a time-dependent baseline (P19-P20); 1000 episodes, 1000 resamples.
Command: cs231n-jax train --config experiments/configs/rl/variance.py --workdir workdirs/rl_variance
Expected: total variance r(tau) 42,710 (95% CI 30,130-58,020), reward-to-go 10,280 (7,342-14,160),
  discounted minus baseline 3,998 (3,222-4,881); 1000 episodes of mean length 21.8; CPU-2 (shared), about 3 min
"""

from cs231n_jax.studies import rl_variance


def get_config():
  return rl_variance.base_config()
