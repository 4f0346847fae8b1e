"""Course-contract models, the compiled Solver and the course's update rules: the course's own
check values, gradient checks in float64, the babysitting sanity checks, and the Solver contract."""

from __future__ import annotations

import math
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.classifiers.cnn import ThreeLayerConvNet
from cs231n_jax.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n_jax.data import load_dataset
from cs231n_jax.gradcheck import KINK_THRESHOLD, eval_numerical_gradient, rel_error
from cs231n_jax.optim import solver_updates as optim
from cs231n_jax.solver import Solver


@pytest.fixture(scope="module")
def digits():
  return load_dataset({"name": "digits"}).course_dict()


def test_two_layer_net_reproduces_the_course_check_values():
  # The two_layer_net notebook's cell: fixed linspace weights, its expected scores and losses
  # (re-derived with plain numpy to the digits shown).
  N, D, H, C = 3, 5, 50, 7
  model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
  model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
  model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
  model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
  model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
  X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
  correct_scores = np.array([
      [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
      [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
      [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
  assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
  y = np.array([0, 5, 1])
  loss, _ = model.loss(X, y)
  assert abs(loss - 3.4702243556) < 1e-10
  model.reg = 1.0  # read at call time, as in the course
  loss, grads = model.loss(X, y)
  assert abs(loss - 26.5948426952) < 1e-10
  assert all(g.dtype == np.float64 for g in grads.values())


def _check_model_gradients(model, X, y, zero_grad=()):
  loss, grads = model.loss(X, y)
  for name in sorted(grads):
    f = lambda _: model.loss(X, y)[0]
    numerical = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
    if name in zero_grad:  # a bias just before batch norm: its gradient is identically 0
      assert np.abs(grads[name]).max() < 1e-10 and np.abs(numerical).max() < 1e-7
    else:
      assert rel_error(numerical, grads[name]) < KINK_THRESHOLD, name
  return loss


@pytest.mark.parametrize("normalization,keep", [(None, 1.0), ("batchnorm", 1.0), ("layernorm", 1.0), (None, 0.7)])
def test_fully_connected_net_gradients_float64(normalization, keep):
  rng = np.random.default_rng(231)
  X, y = rng.standard_normal((6, 8)), rng.integers(0, 10, 6)
  for reg in (0.0, 3.14):
    model = FullyConnectedNet([7, 6], input_dim=8, num_classes=10, reg=reg, weight_scale=0.3, dtype=np.float64,
                              normalization=normalization, dropout_keep_ratio=keep, seed=123)
    zero = ("b1", "b2") if normalization == "batchnorm" else ()
    loss = _check_model_gradients(model, X, y, zero)
    assert loss > 0


def test_three_layer_convnet_gradients_float64():
  rng = np.random.default_rng(0)
  X, y = rng.standard_normal((2, 3, 6, 6)), rng.integers(0, 10, 2)
  model = ThreeLayerConvNet(input_dim=(3, 6, 6), num_filters=3, filter_size=3, hidden_dim=7, weight_scale=1e-2,
                            dtype=np.float64, seed=0)
  _check_model_gradients(model, X, y)


def test_initial_loss_is_ln10_and_regularisation_raises_it(digits):
  X, y = digits["X_train"][:100], digits["y_train"][:100]
  model = FullyConnectedNet([50], input_dim=64, weight_scale=1e-4, seed=0)
  loss0, _ = model.loss(X, y)
  assert abs(loss0 - math.log(10)) < 0.01
  model.reg = 1e3
  loss_reg, _ = model.loss(X, y)
  assert loss_reg > loss0


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [[100, 100], [100, 100, 100, 100]], ids=["3-layer", "5-layer"])
def test_overfit_fifty_examples_within_twenty_epochs(hidden):
  # The CIFAR-shaped digits (32x32x3, raw 0..16 intensities): the course's FullyConnectedNets check.
  data = load_dataset({"name": "digits", "view": "32x32x3", "scale": False}).course_dict()
  small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50], "X_val": data["X_val"], "y_val": data["y_val"]}
  model = FullyConnectedNet(hidden, input_dim=3 * 32 * 32, weight_scale=5e-2, seed=0)
  solver = Solver(model, small, update_rule="sgd_momentum", optim_config={"learning_rate": 1e-2},
                  num_epochs=20, batch_size=25, print_every=1000, verbose=False)
  solver.train()
  assert solver.train_acc_history[-1] == 1.0


@pytest.mark.slow
def test_solver_contract_and_one_compiled_step(digits, capsys):
  model = TwoLayerNet(input_dim=64, hidden_dim=50, weight_scale=1e-1, seed=0)
  solver = Solver(model, digits, update_rule="sgd", optim_config={"learning_rate": 0.5}, lr_decay=0.9,
                  num_epochs=3, batch_size=100, print_every=10, verbose=True)
  solver.train()
  iterations = 3 * (len(digits["y_train"]) // 100)
  assert len(solver.loss_history) == iterations
  assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4  # start + each epoch
  assert solver.num_traces == 1  # the whole step compiled once and reused
  assert solver.best_val_acc == max(solver.val_acc_history) > 0.8
  assert float(solver.optim_configs["W1"]["learning_rate"]) == pytest.approx(0.5 * 0.9**3)
  # The best parameters are swapped into the model, as numpy arrays.
  assert isinstance(model.params["W1"], np.ndarray)
  assert solver.check_accuracy(digits["X_val"], digits["y_val"]) == pytest.approx(solver.best_val_acc)
  out = capsys.readouterr().out
  assert f"(Iteration 1 / {iterations}) loss:" in out and "(Epoch 3 / 3) train acc:" in out


def test_solver_bad_arguments(digits):
  model = TwoLayerNet(input_dim=64, seed=0)
  with pytest.raises(ValueError, match="Unrecognized arguments learning_rate"):
    Solver(model, digits, learning_rate=1e-3)
  with pytest.raises(ValueError, match='Invalid update_rule "adagrad"'):
    Solver(model, digits, update_rule="adagrad")
  with pytest.raises(ValueError, match="missing"):
    Solver(model, {"X_train": digits["X_train"], "y_train": digits["y_train"]})
  with pytest.raises(ValueError, match=r"y_train'\] \(10,\)"):
    Solver(model, {**digits, "y_train": digits["y_train"][:10]})
  with pytest.raises(ValueError, match="input_dim=64"):
    model.loss(np.zeros((2, 65)))
  # Labels enter the compiled pass as tracers, where an out-of-range one would be clamped into a
  # silently wrong loss: they are checked before it.
  with pytest.raises(ValueError, match=r"TwoLayerNet.loss: labels must be in \[0, 10\).*got range \[-1, 3\]"):
    model.loss(np.zeros((2, 64)), np.array([3, -1]))
  with pytest.raises(ValueError, match=r"Solver: data\['y_val'\]: labels must be in \[0, 10\)"):
    Solver(model, {**digits, "y_val": digits["y_val"] + 1})


class NumpySoftmax:
  """A student's numpy model: not compilable, so the Solver compiles only the update."""

  def __init__(self, dim, classes):
    self.params = {"W": 1e-3 * np.random.default_rng(0).standard_normal((dim, classes)), "b": np.zeros(classes)}
    self.reg = 0.0

  def loss(self, X, y=None):
    X = X.reshape(len(X), -1)
    scores = X @ self.params["W"] + self.params["b"]
    if y is None:
      return scores
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    p[np.arange(len(y)), y] -= 1
    return loss, {"W": X.T @ p / len(y), "b": p.sum(0) / len(y)}


def test_solver_trains_a_plain_numpy_model(digits):
  model = NumpySoftmax(64, 10)
  solver = Solver(model, digits, update_rule="adam", optim_config={"learning_rate": 1e-2}, num_epochs=2, verbose=False)
  solver.train()
  assert solver.num_traces == 1
  assert solver.best_val_acc > 0.8


def test_solver_checkpoint_pickles_the_model(digits, tmp_path):
  model = FullyConnectedNet([20], input_dim=64, normalization="batchnorm", dropout_keep_ratio=0.9, seed=0)
  solver = Solver(model, digits, num_epochs=1, verbose=False, checkpoint_name=str(tmp_path / "ck"),
                  optim_config={"learning_rate": 0.1})
  solver.train()
  with open(tmp_path / "ck_epoch_1.pkl", "rb") as f:
    checkpoint = pickle.load(f)
  restored = checkpoint["model"]
  assert checkpoint["epoch"] == 1
  assert restored.loss(digits["X_val"][:5]).shape == (5, 10)
  assert np.abs(restored.bn_params[0]["running_var"]).sum() > 0  # running averages were trained


def test_course_models_agree_with_the_flax_models_given_the_same_weights(digits):
  from cs231n_jax.models.convnet import ThreeLayerConvNet as FlaxConvNet
  from cs231n_jax.models.mlp import FullyConnectedNet as FlaxFC

  X_nchw = digits["X_val"][:8]
  X_nhwc = X_nchw.transpose(0, 2, 3, 1)
  course = FullyConnectedNet([30, 20], input_dim=64, weight_scale=1e-1, seed=1)
  flax_params = {f"Dense_{i}": {"kernel": course.params[f"W{i + 1}"], "bias": course.params[f"b{i + 1}"]} for i in range(3)}
  flax_scores = FlaxFC(hidden_dims=(30, 20)).apply({"params": flax_params}, X_nhwc)
  np.testing.assert_allclose(course.loss(X_nchw), flax_scores, rtol=1e-5, atol=1e-5)  # one channel: same flatten order

  conv = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=16, weight_scale=1e-1, seed=2)
  p = conv.params
  # NCHW flattening (c, h, w) vs NHWC flattening (h, w, c) of the pooled 4x4x4 map: permute W2's rows.
  w2 = p["W2"].reshape(4, 4, 4, 16).transpose(1, 2, 0, 3).reshape(64, 16)
  flax_params = {"Conv_0": {"kernel": p["W1"].transpose(2, 3, 1, 0), "bias": p["b1"]},
                 "Dense_0": {"kernel": w2, "bias": p["b2"]}, "Dense_1": {"kernel": p["W3"], "bias": p["b3"]}}
  flax_scores = FlaxConvNet(num_filters=4, filter_size=3, hidden_dim=16).apply({"params": flax_params}, X_nhwc)
  np.testing.assert_allclose(conv.loss(X_nchw), flax_scores, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Update rules.
# ---------------------------------------------------------------------------------------------


def test_update_rule_defaults_and_first_steps():
  w, dw = np.linspace(-0.4, 0.6, 20).reshape(4, 5), np.linspace(-0.6, 0.4, 20).reshape(4, 5)
  next_w, config = optim.sgd(w, dw)
  np.testing.assert_allclose(next_w, w - 1e-2 * dw, rtol=1e-12)
  assert isinstance(next_w, np.ndarray) and next_w.dtype == np.float64

  next_w, config = optim.sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": np.full((4, 5), 0.1)})
  np.testing.assert_allclose(config["velocity"], 0.9 * 0.1 - 1e-3 * dw, rtol=1e-12)
  np.testing.assert_allclose(next_w, w + config["velocity"], rtol=1e-12)

  # RMSProp from a zero cache: cache = 0.01 dw², step = lr dw / (0.1 |dw| + eps) = 10 lr sign(dw).
  next_w, config = optim.rmsprop(w, dw, {"learning_rate": 1e-2})
  assert config["decay_rate"] == 0.99 and config["epsilon"] == 1e-8
  np.testing.assert_allclose(next_w, w - 1e-2 * dw / (0.1 * np.abs(dw) + 1e-8), rtol=1e-12)

  # Bias-corrected Adam's first step is lr * dw / (|dw| + eps), about lr * sign(dw).
  next_w, config = optim.adam(w, dw)
  assert config["t"] == 1 and config["learning_rate"] == 1e-3
  np.testing.assert_allclose(next_w, w - 1e-3 * dw / (np.abs(dw) + 1e-8), rtol=1e-10)


def test_update_rules_init_fills_state_without_stepping_and_shape_errors():
  w = np.ones(3)
  config = optim.adam.init(w, {"learning_rate": 5e-4})
  assert config["t"] == 0 and config["learning_rate"] == 5e-4 and float(np.sum(config["m"])) == 0.0
  with pytest.raises(ValueError, match=r"w \(3,\) and dw \(2,\)"):
    optim.sgd_momentum(w, np.ones(2))


def test_update_rules_compile_over_a_params_dict():
  params = {"a": jnp.ones((2, 2)), "b": jnp.zeros(3)}
  grads = jax.tree.map(jnp.ones_like, params)
  configs = {k: optim.adam.init(v, {}) for k, v in params.items()}

  @jax.jit
  def step(params, configs):
    out = {k: optim.adam(params[k], grads[k], dict(configs[k])) for k in params}
    return {k: v[0] for k, v in out.items()}, {k: v[1] for k, v in out.items()}

  params, configs = step(params, configs)
  params, configs = step(params, configs)
  assert int(configs["a"]["t"]) == 2
  np.testing.assert_allclose(params["a"], 1.0 - 2e-3, rtol=1e-5)  # two ~lr-sized steps against a constant gradient
