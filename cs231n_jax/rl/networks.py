"""The agents' networks (family ``policy``): MLP actor-critic and Q-networks for vector observations,
and the lecture's Atari Q-network.

The slides' Q-network (P11) takes "84x84x4 stack of last 4 frames" and has one output per action; its
layers were in a figure the text lost. We use those of Mnih et al. 2013 (the paper the slides show):
16 8x8 filters stride 4, 32 4x4 filters stride 2 (ReLU), a fully connected layer of 256 (ReLU) and
a linear output per action ("a single feedforward pass to compute Q-values for all actions").
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models.registry import register

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


class MLP(nn.Module):
  features: Sequence[int]
  num_outputs: int
  activation: str = "tanh"
  output_scale: float = 1.0  # orthogonal init gain of the last layer (0.01 for a policy's logits)

  @nn.compact
  def __call__(self, x):
    act = ACTIVATIONS[self.activation]
    for f in self.features:
      x = act(nn.Dense(f, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
    return nn.Dense(self.num_outputs, kernel_init=nn.initializers.orthogonal(self.output_scale))(x)


@register("mlp_actor_critic", "separate MLP actor (logits) and critic (value) for vector observations",
          input_shape=(4,), family="policy")
class ActorCritic(nn.Module):
  """``(logits [..., num_actions], value [...])``."""

  num_actions: int = 2
  features: Sequence[int] = (64, 64)
  activation: str = "tanh"

  @nn.compact
  def __call__(self, x):
    logits = MLP(self.features, self.num_actions, self.activation, 0.01, name="actor")(x)
    value = MLP(self.features, 1, self.activation, 1.0, name="critic")(x)
    return logits, value[..., 0]


@register("mlp_q_network", "an MLP Q-network: one Q(s, a) per action for vector observations",
          input_shape=(4,), family="policy")
class QNetwork(nn.Module):
  num_actions: int = 2
  features: Sequence[int] = (120, 84)
  activation: str = "relu"

  @nn.compact
  def __call__(self, x):
    return MLP(self.features, self.num_actions, self.activation, 1.0)(x)


@register("atari_q_network", "the lecture's DQN for Atari (Mnih et al. 2013): 84x84x4 frames -> "
          "16 8x8/4 -> 32 4x4/2 -> FC-256 -> Q per action", input_shape=(84, 84, 4), family="policy")
class AtariQNetwork(nn.Module):
  num_actions: int = 4

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    x = x.astype(jnp.float32)
    x = nn.relu(nn.Conv(16, (8, 8), strides=(4, 4), padding="VALID", name="conv1")(x))
    x = nn.relu(nn.Conv(32, (4, 4), strides=(2, 2), padding="VALID", name="conv2")(x))
    x = x.reshape(x.shape[:-3] + (-1,))
    x = nn.relu(nn.Dense(256, name="fc")(x))
    return nn.Dense(self.num_actions, name="q")(x)
