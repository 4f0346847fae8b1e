"""Lecture 14: reinforcement learning: MDPs, value iteration, Q-learning, DQN, policy gradients, actor-
critic, the recurrent attention model.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.rl import attention, networks  # noqa: F401  (register the policy family)
