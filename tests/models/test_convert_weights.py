"""``cs231n-jax convert-weights``: torchvision-layout PyTorch models with random weights are converted
and must give the same logits (to 1e-5) as the Flax models; mismatched architectures fail loudly.
Uses torch (the ``bench`` extra)."""

import jax
import numpy as np
import pytest
import torch

from cs231n_jax.convert import WeightMismatchError, convert_state_dict, load_state_dict, load_variables, run, save_variables
from cs231n_jax.convert import torch_models as T
from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models import get_model

ATOL = 1e-5


def _random_torch(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  torch.manual_seed(seed)
  for p in model.parameters():  # beyond the default init, so biases are non-zero too
    torch.nn.init.normal_(p, std=float(p.detach().std()) if p.numel() > 1 and p.detach().std() > 0 else 0.05)
  return T.randomize_batch_norm(model, torch.Generator().manual_seed(seed)).eval()


def _images(shape, batch=2, seed=0):
  return np.random.RandomState(seed).randn(batch, *shape).astype(np.float32)


def _torch_logits(model, x_nhwc):
  with torch.no_grad():
    return model(torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2))).numpy()


def _flax_logits(name, variables, x, **kwargs):
  model = get_model(name, **kwargs)
  return np.asarray(jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x))


CASES = [
    # (torch model factory, registered name, model kwargs, input HWC)
    (lambda: T.ResNet(18), "resnet18", {}, (64, 64, 3)),
    (lambda: T.VGG(11, batch_norm=True, hidden=64), "vgg11", {"batch_norm": True, "hidden_dims": (64, 64)}, (64, 64, 3)),
    (lambda: T.VGG(13, hidden=32), "vgg13", {"hidden_dims": (32, 32)}, (96, 96, 3)),
    (lambda: T.AlexNet(hidden=64), "alexnet_torchvision", {"hidden_dims": (64, 64)}, (127, 127, 3)),
    (lambda: T.SqueezeNet("1_0"), "squeezenet1_0", {}, (64, 64, 3)),
    (lambda: T.SqueezeNet("1_1"), "squeezenet1_1", {}, (64, 64, 3)),
    (lambda: T.GoogLeNet(), "googlenet_torchvision", {}, (64, 64, 3)),
]
SLOW_CASES = [
    (lambda: T.ResNet(50, groups=32, width_per_group=4), "resnext50_32x4d", {}, (64, 64, 3)),
    (lambda: T.DenseNet(121), "densenet121", {}, (64, 64, 3)),
]


def _check_case(make, name, kwargs, shape):
  torch_model = _random_torch(make())
  x = _images(shape)
  variables = convert_state_dict(torch_model.state_dict(), name, input_shape=shape, **kwargs)
  expected = _torch_logits(torch_model, x)
  got = _flax_logits(name, variables, x, **kwargs)
  assert np.abs(expected).max() > 1e-2  # the comparison is not between two near-zero outputs
  np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("make,name,kwargs,shape", CASES, ids=[c[1] for c in CASES])
def test_converted_logits_match_pytorch(make, name, kwargs, shape):
  _check_case(make, name, kwargs, shape)


@pytest.mark.slow
@pytest.mark.parametrize("make,name,kwargs,shape", SLOW_CASES, ids=[c[1] for c in SLOW_CASES])
def test_converted_logits_match_pytorch_deep_models(make, name, kwargs, shape):
  _check_case(make, name, kwargs, shape)


def test_googlenet_auxiliary_heads_convert_with_the_flatten_permutation():
  torch_model = _random_torch(T.GoogLeNet(aux_logits=True))
  captured = {}
  hooks = [getattr(torch_model, f"inception4{k}").register_forward_hook(
      lambda m, i, o, k=k: captured.__setitem__(k, o)) for k in "ad"]
  x = _images((64, 64, 3))
  _torch_logits(torch_model, x)
  for h in hooks:
    h.remove()
  variables = convert_state_dict(torch_model.state_dict(), "googlenet_torchvision", input_shape=(64, 64, 3),
                                 aux_logits=True)
  from cs231n_jax.models.googlenet import InceptionAux
  for head, key in (("aux1", "a"), ("aux2", "d")):
    feature = captured[key]
    with torch.no_grad():
      expected = getattr(torch_model, head)(feature).numpy()  # eval mode: dropout off
    sub = {c: variables[c][head] for c in ("params", "batch_stats")}
    got = InceptionAux(1000).apply(sub, feature.numpy().transpose(0, 2, 3, 1), train=False)
    np.testing.assert_allclose(np.asarray(got), expected, atol=ATOL, rtol=0)


def test_densenet_legacy_key_names_are_renamed():
  state = T.DenseNet(121).state_dict()
  legacy = {}
  for k, v in state.items():  # the names of torchvision's published DenseNet checkpoints
    legacy[k.replace(".norm1.", ".norm.1.").replace(".conv1.", ".conv.1.").replace(".norm2.", ".norm.2.")
          .replace(".conv2.", ".conv.2.")] = v
  assert any(".norm.1." in k for k in legacy)
  a = convert_state_dict(state, "densenet121")
  b = convert_state_dict(legacy, "densenet121")
  assert jax.tree.all(jax.tree.map(lambda x, y: np.array_equal(x, y), a, b))


def test_extra_key_names_the_first_mismatch():
  with pytest.raises(WeightMismatchError, match=r"layer1\.2\.conv1\.weight \(64, 64, 3, 3\): model resnet18 has no "
                     r"variable params/layer1_2/conv1/kernel"):
    convert_state_dict(T.ResNet(34).state_dict(), "resnet18")


def test_shape_mismatch_names_the_key_and_both_shapes():
  with pytest.raises(WeightMismatchError, match=r"layer1\.0\.conv1\.weight: the weights have shape \(64, 64, 1, 1\), "
                     r"model resnet18 expects \(64, 64, 3, 3\)"):
    convert_state_dict(T.ResNet(50).state_dict(), "resnet18")
  with pytest.raises(WeightMismatchError, match=r"fc\.weight: the weights have shape \(1000, 512\), model resnet18 "
                     r"expects \(10, 512\)"):
    convert_state_dict(T.ResNet(18).state_dict(), "resnet18", num_classes=10)


def test_missing_weights_are_named():
  state = T.ResNet(18).state_dict()
  del state["layer4.1.bn2.running_var"]
  with pytest.raises(WeightMismatchError, match=r"batch_stats/layer4_1/bn2/var \(512,\): model resnet18 needs it"):
    convert_state_dict(state, "resnet18")


def test_npz_and_pth_files_through_the_command(tmp_path, capsys):
  torch_model = _random_torch(T.SqueezeNet("1_1"))
  state = torch_model.state_dict()
  np.savez(tmp_path / "sq.npz", **{k: v.numpy() for k, v in state.items()})
  torch.save(state, tmp_path / "sq.pth")
  assert list(load_state_dict(tmp_path / "sq.npz")) == list(state)
  expected = convert_state_dict(state, "squeezenet1_1")
  for suffix in ("npz", "pth"):
    out = tmp_path / f"ckpt_{suffix}"
    assert run(["--weights", str(tmp_path / f"sq.{suffix}"), "--model", "squeezenet1_1", "--out", str(out)]) == 0
    assert "1,235,496 parameters of squeezenet1_1" in capsys.readouterr().out
    restored = load_variables(out, "squeezenet1_1")
    assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(np.asarray(a), b), restored, expected))


def test_command_usage_errors(tmp_path, capsys):
  assert run(["--weights", str(tmp_path / "nope.pth"), "--model", "resnet18", "--out", str(tmp_path / "o")]) == 2
  assert "--weights: no such file" in capsys.readouterr().err
  (tmp_path / "w.txt").write_text("x")
  assert run(["--weights", str(tmp_path / "w.txt"), "--model", "resnet18", "--out", str(tmp_path / "o")]) == 2
  assert "expected a .pth, .pt or .npz file" in capsys.readouterr().err
  np.savez(tmp_path / "w.npz", a=np.zeros(1))
  assert run(["--weights", str(tmp_path / "w.npz"), "--model", "nosuchnet", "--out", str(tmp_path / "o")]) == 2
  assert "unknown model 'nosuchnet'" in capsys.readouterr().err
  assert run(["--weights", str(tmp_path / "w.npz"), "--model", "resnet18", "--out", str(tmp_path / "o"),
              "--model-arg", "num_classes"]) == 2
  assert "--model-arg: expected KEY=VALUE" in capsys.readouterr().err
  assert run(["--weights", str(tmp_path / "w.npz"), "--model", "resnet18", "--out", str(tmp_path)]) == 2
  assert "exists (pass --overwrite" in capsys.readouterr().err
  assert run(["--model", "resnet18"]) == 2
  assert "required" in capsys.readouterr().err


def test_saved_checkpoint_round_trip(tmp_path):
  variables = convert_state_dict(T.ResNet(18).state_dict(), "resnet18")
  save_variables(tmp_path / "r18", variables)
  restored = load_variables(tmp_path / "r18", "resnet18")
  assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(np.asarray(a), b), restored, variables))


# --- the building blocks whose PyTorch semantics the conversion relies on ---------------------


@pytest.mark.parametrize("size,window,stride,pad", [(13, 3, 2, 0), (14, 3, 2, 0), (7, 2, 2, 0), (112, 3, 2, 1),
                                                    (6, 3, 2, 1), (55, 3, 2, 0)])
def test_ceil_mode_max_pool_matches_pytorch(size, window, stride, pad):
  x = _images((size, size, 3))
  expected = torch.nn.functional.max_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), window, stride, pad,
                                            ceil_mode=True).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_array_equal(np.asarray(L.max_pool(x, window, stride, pad, ceil_mode=True)), expected)


@pytest.mark.parametrize("size,out", [(5, 7), (10, 7), (13, 4), (7, 7), (1, 6), (14, 4)])
def test_adaptive_avg_pool_matches_pytorch(size, out):
  x = _images((size, size + 1, 3))
  expected = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), (out, out))
  np.testing.assert_allclose(np.asarray(L.adaptive_avg_pool(x, (out, out))), expected.numpy().transpose(0, 2, 3, 1),
                             atol=1e-6)


def test_local_response_norm_is_the_papers_formula():
  x = _images((5, 5, 8)) * 3
  lrn = L.LocalResponseNorm(size=5, k=2.0, alpha=1e-4, beta=0.75)
  got = np.asarray(lrn.apply({}, x))
  # torch (and Caffe) divide alpha by the window size.
  expected = torch.nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)(torch.from_numpy(x.transpose(0, 3, 1, 2)))
  np.testing.assert_allclose(got, expected.numpy().transpose(0, 2, 3, 1), rtol=1e-6)
  c = 3  # the formula directly, for one channel
  manual = x[..., c] / (2.0 + 1e-4 * np.sum(x[..., c - 2:c + 3] ** 2, axis=-1)) ** 0.75
  np.testing.assert_allclose(got[..., c], manual, rtol=1e-6)
