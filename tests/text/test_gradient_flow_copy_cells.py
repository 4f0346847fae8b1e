"""Unit checks of the lecture-10 demonstrations: the gradient-flow measurement (exact for a linear
recurrence), the copy task's sequences and config checks, and the interpretable-cell search."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.studies import copy_task as study
from cs231n_jax.tasks import copy as copy_task
from cs231n_jax.text import cells as K
from cs231n_jax.text import copy_task as CT
from cs231n_jax.text import gradient_flow as GF
from cs231n_jax.text.model import CharLM

# ---------------------------------------------------------------------------------------------
# Gradient flow.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.9, 1.1])
def test_linear_recurrence_gradient_is_exactly_scale_to_the_k(scale):
  # W = s Q, Q orthogonal: every singular value of W^k is s^k, so the norm k steps back is s^k
  # times the norm at the last state (the readout has unit norm, so that norm is 1).
  length = 12
  with jax.enable_x64(True):
    norms = np.asarray(GF.linear_rnn_norms(scale, 6, length, jax.random.key(0)))
  k = np.arange(length)[::-1]
  np.testing.assert_allclose(norms, scale ** k, rtol=1e-10)


def test_state_gradient_norms_equal_the_norms_of_explicit_jacobian_products():
  # A tanh recurrence: the gradient at state t is readoutᵀ J_T … J_{t+1}, built here by hand.
  rng = np.random.default_rng(0)
  H, T = 4, 6
  W = rng.standard_normal((H, H))
  xs = rng.standard_normal((T, H))
  readout = rng.standard_normal(H)
  with jax.enable_x64(True):
    step = lambda h, x: jnp.tanh(h @ W + x)
    norms = np.asarray(GF.state_gradient_norms(step, jnp.zeros(H), jnp.asarray(xs), jnp.asarray(readout)))
    hs, h = [], np.zeros(H)
    for t in range(T):
      h = np.tanh(h @ W + xs[t])
      hs.append(h)
    g, expected = readout.copy(), [None] * T
    for t in range(T - 1, -1, -1):
      expected[t] = np.linalg.norm(g)
      if t > 0:  # d h_t / d h_{t-1} = W diag(1 - h_t^2), applied to a row vector
        g = (g * (1 - hs[t] ** 2)) @ W.T
  np.testing.assert_allclose(norms, expected, rtol=1e-10)


@pytest.mark.slow  # two float64 compilations of a 40-step LSTM: 7 s on the loaded 2-core machine
def test_a_larger_forget_bias_keeps_more_gradient_40_steps_back():
  with jax.enable_x64(True):
    key = jax.random.key(1)
    open_gate = np.asarray(GF.cell_norms("lstm", 8, 40, key, forget_bias=3.0))
    half_open = np.asarray(GF.cell_norms("lstm", 8, 40, key, forget_bias=1.0))
  # Along the cell path the gradient is multiplied by f = σ(bias) per step: 0.95^39 = 0.14 against
  # 0.73^39 = 5e-6 at initialisation.
  assert open_gate[0] / open_gate[-1] > 1e3 * (half_open[0] / half_open[-1])


def test_gradient_flow_runner_rejects_a_one_step_sequence(tmp_path):
  c = load_config("text/gradient_flow.py")
  c.length = 1
  with pytest.raises(ConfigError, match="length / hidden_size: expected length >= 2"):
    GF.run_gradient_flow(c, str(tmp_path))


# ---------------------------------------------------------------------------------------------
# Copy task.
# ---------------------------------------------------------------------------------------------


def test_copy_task_sequences_hold_the_answer_only_at_the_first_step():
  tokens, targets = CT.make_batch(jax.random.key(0), 256, 10, num_symbols=8, num_distractors=5)
  tokens, targets = np.asarray(tokens), np.asarray(targets)
  assert tokens.shape == (256, 10) and targets.shape == (256,)
  np.testing.assert_array_equal(tokens[:, 0], targets)
  assert tokens[:, 0].min() >= 0 and tokens[:, 0].max() < 8
  assert tokens[:, 1:-1].min() >= 8 and tokens[:, 1:-1].max() < 13  # distractors: their own alphabet
  assert np.all(tokens[:, -1] == 13) and CT.vocabulary_size(8, 5) == 14  # the query token
  assert len(np.unique(targets)) == 8  # every symbol occurs
  with pytest.raises(ConfigError, match="length: the copy task needs at least 3 steps .* got 2"):
    CT.make_batch(jax.random.key(0), 4, 2, num_symbols=8, num_distractors=5)


def _copy_config() -> ml_collections.ConfigDict:
  c = copy_task.base_config()
  c.cells = ("rnn", "gru")
  c.task.update(length=6, eval_examples=8)
  c.model.hidden_size = 4
  c.train.update(batch_size=4, num_steps=4, eval_every=2, log_every=2, eval_batch_size=8, progress=False,
                 async_checkpoints=False)
  return c


@pytest.mark.parametrize("overrides,pattern", [
    (dict(cells=("rnn", "transformer")), r"cells: expected names from .* got 'transformer'"),
    (dict(task=dict(length=2)), r"task.length: the copy task needs at least 3 steps .* got 2"),
    (dict(model=dict(hidden_size=0)), "model.hidden_size: expected a positive integer, got 0"),
    (dict(train=dict(num_steps=-1)), "train.num_steps: expected a non-negative integer, got -1"),
])
def test_copy_task_bad_config_is_a_one_line_config_error(overrides, pattern, tmp_path):
  c = _copy_config()
  c.update(overrides)
  with pytest.raises(ConfigError, match=pattern) as info:
    study.run(c, str(tmp_path))
  assert "\n" not in str(info.value)


def test_copy_task_study_trains_every_cell_and_profiles_its_gradients(tmp_path):
  results = study.run(_copy_config(), str(tmp_path))
  assert set(results["accuracy"]) == {"rnn", "gru"} and results["chance"] == 0.125
  for cell in ("rnn", "gru"):
    assert 0.0 <= results["accuracy"][cell] <= 1.0 and results["gradient_ratio_first_to_last"][cell] > 0
    assert (tmp_path / cell / "results.json").exists()
  assert (tmp_path / study.FIGURE_NAME).read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# Interpretable cells.
# ---------------------------------------------------------------------------------------------


def test_text_features_by_hand():
  f = K.text_features('a("b")\n    x')
  np.testing.assert_array_equal(f["inside double quotes"], [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(f["inside parentheses"], [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(f["position in line"], [1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5])
  np.testing.assert_array_equal(f["inside an indented (code) line"], [0] * 6 + [1] * 6)


def test_the_search_finds_a_planted_cell_and_its_sign():
  rng = np.random.default_rng(0)
  feature = (rng.random(500) < 0.3).astype(float)
  acts = 0.3 * rng.standard_normal((500, 16))
  acts[:, 11] = -feature + 0.1 * rng.standard_normal(500)  # cell 11 is off inside the region
  found = K.find_interpretable_cells(acts, {"region": feature})
  assert found["region"]["cell"] == 11
  assert found["region"]["correlation"] < -0.9


def test_interpretable_cells_need_an_lstm():
  model = CharLM(vocab_size=5, cell="gru", hidden_size=4)
  params = model.init(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))["params"]
  with pytest.raises(ConfigError, match="model.cell: interpretable cells need an LSTM"):
    K.cell_activations(model, params, np.array([0, 1, 2]))
