"""The one model registry holds every family: the area packages register their networks when imported
(``cs231n_jax.zoo`` imports them all), ``get_model`` builds any of them by name, and the names the
experiment configs use (``model.name``, the GAN's ``model.arch``, the studies' lists of models) still
resolve to models that build."""

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from cs231n_jax import zoo
from cs231n_jax.config import load_config, variants_of
from cs231n_jax.models.registry import count_params, default_input_shape, family_of, get_model, list_models
from cs231n_jax.tasks import adversarial, captioning, char_lm, copy, likelihood

CONFIGS = Path(__file__).parents[2] / "experiments" / "configs"
FAMILY_MODELS = {
    "pixel": {"pixelcnn", "gated_pixelcnn", "row_lstm", "diagonal_bilstm"},
    "latent": {"vae", "conv_autoencoder"},
    "gan": {"mlp_generator", "mlp_discriminator", "dcgan_generator", "dcgan_discriminator"},
    "caption": {"rnn", "lstm", "attention_lstm", "transformer"},
    "char_lm": {"char_lm", "char_transformer", "copy_net", "seq2seq"},
    "detect": {"classify_localize", "single_shot", "faster_rcnn", "detr"},
    "segment": {"encoder_decoder", "fcn_flat", "sliding_window", "unet"},
    "ssl": {"bag_of_words_text", "clip_net", "cpc_net", "ssl_convnet", "ssl_mlp_head", "ssl_net", "mae_vit",
            "context_encoder", "context_discriminator", "colorization_net"},
    "video": {"c3d", "c3d_tiny", "conv_gru", "early_fusion", "late_fusion", "local_3d_cnn", "lrcn", "single_frame",
              "slow_fusion", "spatial_stream", "temporal_stream", "two_stream", "video_transformer"},
    "policy": {"atari_q_network", "mlp_actor_critic", "mlp_q_network", "recurrent_attention"},
    "3d": {"nerf", "occupancy_net", "pointnet", "voxel_cnn"},
    "vis": {"style_transform_net"},
}
KEY = jax.random.key(0)


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_every_family_lists_its_models(family):
  assert set(list_models(family)) == FAMILY_MODELS[family]
  assert all(family_of(name) == family for name in FAMILY_MODELS[family])
  assert all(list_models(family).values())  # each has a one-line description


def test_the_zoo_holds_every_family_and_the_classifiers():
  assert set(zoo.list_models()) >= set().union(*FAMILY_MODELS.values()) | {
      "resnet20", "three_layer_convnet", "efficientnet_lite0", "mobilenet_v2"}
  assert {family_of(name) for name in zoo.list_models()} == {"classify", *FAMILY_MODELS}
  assert len(list_models("classify")) + sum(map(len, FAMILY_MODELS.values())) == len(list_models())


def test_old_lookups_are_gone():
  from cs231n_jax.captioning import models as captioners

  assert not hasattr(captioners, "build_captioner") and not hasattr(captioners, "CAPTIONERS")
  with pytest.raises(ImportError):
    __import__("cs231n_jax.generative.models")


@pytest.mark.parametrize("name,kind", [("row_lstm", "row"), ("diagonal_bilstm", "diagonal")])
def test_pixelrnn_names_fix_the_layer_kind(name, kind):
  model = get_model(name, num_levels=2, image_shape=(3, 3, 1), hidden=4, num_layers=1, first_kernel=3, head_features=4)
  assert model.kind == kind
  logits = model.apply(model.init(KEY, jnp.zeros((2, 3, 3, 1), jnp.int32)), jnp.ones((2, 3, 3, 1), jnp.int32))
  assert logits.shape == (2, 3, 3, 1, 2)


def test_get_model_builds_a_pixel_model_by_name():
  model = get_model("gated_pixelcnn", num_levels=3, image_shape=(4, 4, 1), features=4, num_layers=2, first_kernel=3,
                    head_features=4)
  x = jnp.zeros((2, 4, 4, 1), jnp.int32)
  assert model.apply(model.init(KEY, x), x).shape == (2, 4, 4, 1, 3)


def test_get_model_builds_a_captioner_by_name():
  model = get_model("lstm", vocab_size=7, wordvec_dim=4, hidden_dim=6)
  features, captions = jnp.zeros((2, 5)), jnp.zeros((2, 3), jnp.int32)
  logits, attention = model.apply(model.init(KEY, features, captions), features, captions)
  assert model.cell == "lstm" and get_model("rnn", vocab_size=7).cell == "rnn"
  assert logits.shape == (2, 3, 7) and attention.shape == (2, 3, 1)


def test_get_model_builds_gan_networks_by_name():
  g = get_model("dcgan_generator", image_shape=(8, 8, 1), base_features=4)
  d = get_model("dcgan_discriminator", base_features=4)
  z = jnp.zeros((2, 3))
  g_vars = g.init(KEY, z)
  images = g.apply(g_vars, z)
  assert images.shape == (2, 8, 8, 1)
  assert d.apply(d.init(KEY, images), images).shape == (2,)
  assert get_model("mlp_generator", out_shape=(2,), output="linear").apply(
      get_model("mlp_generator", out_shape=(2,), output="linear").init(KEY, z), z).shape == (2, 2)


def test_unknown_names_and_arguments_name_the_field():
  with pytest.raises(ValueError, match="model.name: unknown model 'pixelgan'"):
    get_model("pixelgan")
  with pytest.raises(ValueError, match="model.attention_dim: rnn has no such argument"):
    get_model("rnn", vocab_size=5, attention_dim=3)


def test_parameters_are_counted_only_where_one_input_builds_the_model():
  assert default_input_shape("pixelcnn") == (8, 8, 1) and count_params("pixelcnn") > 0
  assert default_input_shape("mlp_generator") == (32,) and count_params("mlp_generator") > 0
  assert count_params("vae") > 0  # its __call__ takes no ``train``
  for name in list_models("caption") | list_models("char_lm"):
    assert default_input_shape(name) is None
  with pytest.raises(ValueError, match="input_shape: lstm is not built from one input"):
    count_params("lstm", vocab_size=5)


# ---------------------------------------------------------------------------------------------
# The configs' names.


def _shapes(model, *inputs):
  return jax.eval_shape(lambda: model.init({"params": KEY, "dropout": KEY}, *inputs))["params"]


def _likelihood_model(c):
  name = c.model.name
  if family_of(name) == "pixel":
    model = get_model(name, num_levels=2, image_shape=(8, 8, 1), **likelihood.model_kwargs(c.model))
    return name, _shapes(model, jnp.zeros((1, 8, 8, 1), jnp.int32))
  model = get_model(name, **likelihood.model_kwargs(c.model))
  return name, _shapes(model, jnp.zeros((1, 8, 8, 1)))


def _gan_models(c):
  shape = (2,) if c.data.name == "ring" else (8, 8, 1)
  generator, discriminator = adversarial.build_networks(c, shape)
  _shapes(generator, jnp.zeros((1, c.latent_dim)))
  _shapes(discriminator, jnp.zeros((c.model.get("pack", 1), *shape)))  # a packed D reads groups of `pack`
  return f"{c.model.arch}_generator", f"{c.model.arch}_discriminator"


def _captioner(model_config, name):
  model_config = model_config.copy_and_resolve_references()
  model_config.name = name
  model = captioning.build_model(model_config, 11, 6)
  _shapes(model, jnp.zeros((1, 8)), jnp.zeros((1, 5), jnp.int32))
  return name


def config_cases():
  """(config file, what it names) for every generative, captioning and text config that names models."""
  cases = []
  files = sorted((CONFIGS / "generative").glob("*.py")) + sorted((CONFIGS / "captioning").glob("*.py"))
  for path in [f"{f}:{v}" for f in files for v in variants_of(f)] + [f for f in files if not variants_of(f)]:
    c = load_config(path)
    block = c.base if "base" in c else c
    if "model" in block and "name" in block.model:
      cases.append((path, "name"))
    elif "model" in block and "arch" in block.model:
      cases.append((path, "arch"))
    elif "models" in c:
      cases.append((path, "models"))
  for path in (CONFIGS / "text" / "char_lstm.py", CONFIGS / "text" / "char_rnn.py", CONFIGS / "text" / "copy_task.py"):
    cases.append((path, "text"))
  return cases


CASES = config_cases()


def test_the_config_cases_cover_every_family():
  kinds = {kind for _, kind in CASES}
  assert kinds == {"name", "arch", "models", "text"} and len(CASES) >= 20


def _case_id(spec) -> str:
  path, _, variant = str(spec).partition(".py:")
  path = Path(path if variant else spec)
  return f"{path.parent.name}/{path.stem}" + (f":{variant}" if variant else "")


@pytest.mark.parametrize("path,kind", CASES, ids=[_case_id(p) for p, _ in CASES])
def test_config_model_names_resolve_and_build(path, kind):
  c = load_config(path)
  folder = Path(str(path).partition(".py:")[0]).parent.name
  built = set()
  if kind == "name" and folder == "captioning":
    built.add(_captioner(c.model, c.model.name))
  elif kind == "name":
    name, params = _likelihood_model(c)
    assert jax.tree.leaves(params)
    built.add(name)
  elif kind == "arch":
    built.update(_gan_models(c.base if "base" in c else c))
  elif kind == "models" and folder == "captioning":
    built.update(_captioner(c.model, name) for name in c.models)
  elif kind == "models":  # the pixel-speed study: {name: constructor arguments}
    for name, kwargs in c.models.items():
      model = get_model(name, num_levels=c.num_levels, image_shape=(8, 8, 1), **kwargs.to_dict())
      assert jax.tree.leaves(_shapes(model, jnp.zeros((1, 8, 8, 1), jnp.int32)))
      built.add(name)
  elif path.stem == "copy_task":
    model = copy.build_model(c)
    _shapes(model, jnp.zeros((1, c.task.length), jnp.int32))
    built.add("copy_net")
  else:
    model = char_lm.build_model(c.model, 30)
    _shapes(model, jnp.zeros((1, 5), jnp.int32))
    built.add("char_lm")
  assert built and all(family_of(name) in FAMILY_MODELS for name in built)
