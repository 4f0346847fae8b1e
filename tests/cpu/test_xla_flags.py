"""cs231n_jax.cpu.xla_flags: the XLA:CPU option the library sets on import takes effect, respects the
user's own XLA_FLAGS, stays out of jaxlib versions it was not measured on, and can be turned off."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import SingleDeviceSharding

from cs231n_jax.cpu import xla_flags

OPTION = f"--{xla_flags.YNN_FUSION_OPTION}"


def test_flag_is_appended_to_the_users_flags():
  flags = xla_flags.with_library_flags("--xla_force_host_platform_device_count=8", "0.10.2")
  assert flags == f"--xla_force_host_platform_device_count=8 {OPTION}={xla_flags.LIBRARY_YNN_FUSION_TYPES}"
  assert xla_flags.with_library_flags("", "0.11.0") == f"{OPTION}={xla_flags.LIBRARY_YNN_FUSION_TYPES}"


def test_users_own_choice_and_untested_jaxlib_are_left_alone():
  mine = f"{OPTION}=individual_dot --xla_force_host_platform_device_count=2"
  assert xla_flags.with_library_flags(mine, "0.10.2") == mine
  for version in ("0.4.30", "0.9.1", "0.12.0", "1.0.0"):
    assert xla_flags.with_library_flags("--xla_cpu_enable_fast_math=false", version) == "--xla_cpu_enable_fast_math=false"


def _ynnpack_convolutions(**jit_kwargs) -> int:
  """How many convolutions of a conv layer's training step XLA:CPU hands to YNNPACK (at a size
  where XLA's default does: the weight gradient of 16 -> 16 channels at 32x32, batch 128)."""
  conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  grads = lambda x, w: jax.grad(lambda x, w: (conv(x, w) ** 2).sum(), argnums=(0, 1))(x, w)
  cpu = SingleDeviceSharding(jax.devices("cpu")[0])  # the option is XLA:CPU's, whatever the default backend
  shapes = (jax.ShapeDtypeStruct((128, 32, 32, 16), jnp.float32, sharding=cpu),
            jax.ShapeDtypeStruct((3, 3, 16, 16), jnp.float32, sharding=cpu))
  text = jax.jit(grads, **jit_kwargs).lower(*shapes).compile().as_text()
  ynn_computations = set(re.findall(r'calls=%([\w.\-]+), backend_config=\{"fusion_config":\{"kind":"__ynn_fusion"', text))
  blocks = {block.strip().split(" ", 1)[0].lstrip("%"): block for block in text.split("\n\n")}
  return sum(" convolution(" in blocks.get(name, "") for name in ynn_computations)


def test_option_takes_effect_in_this_process_and_the_xla_default_is_restorable():
  assert f"{OPTION}={xla_flags.LIBRARY_YNN_FUSION_TYPES}" in os.environ["XLA_FLAGS"]
  assert _ynnpack_convolutions() == 0  # the library's choice: XLA's own convolutions
  # The benchmarks' "XLA defaults" variant really gets YNNPACK's convolution back.
  assert _ynnpack_convolutions(compiler_options=xla_flags.xla_default_compiler_options()) == 1


def _python(code: str, **env) -> subprocess.CompletedProcess:
  e = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", xla_flags.OPT_OUT_ENV)}
  return subprocess.run([sys.executable, "-W", "always", "-c", code], env={**e, **env}, capture_output=True,
                        text=True, timeout=120, check=True)


def test_late_import_warns_and_opt_out_leaves_xla_flags_untouched():
  late = _python("import jax; jax.numpy.ones(1).block_until_ready(); import os, cs231n_jax; "
                 "print(repr(os.environ.get('XLA_FLAGS')))")
  assert "JAX started before cs231n_jax was imported" in late.stderr
  assert late.stdout.strip() == "None"  # nothing set that could no longer take effect
  opted_out = _python("import os, cs231n_jax; print(os.environ['XLA_FLAGS'])",
                      XLA_FLAGS="--xla_cpu_enable_fast_math=false", **{xla_flags.OPT_OUT_ENV: "1"})
  assert opted_out.stdout.strip() == "--xla_cpu_enable_fast_math=false"


def test_every_notebook_imports_cs231n_jax_before_jax():
  """A notebook that starts JAX first would run with XLA's default flag (and print the warning)."""
  notebooks = sorted((Path(__file__).parents[2] / "colab").glob("*.ipynb"))
  assert notebooks
  for path in notebooks:
    lines = [line for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"
             for line in "".join(cell["source"]).splitlines()]
    first = lambda pattern: next((i for i, line in enumerate(lines) if re.match(pattern, line)), len(lines))
    assert first(r"\s*(import|from) cs231n_jax\b") < first(r"\s*(import|from) jax\b"), path.name
