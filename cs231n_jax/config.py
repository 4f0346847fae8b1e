"""Experiment configs: one ``get_config()`` file per experiment, command-line overrides, runners.

A config file under ``experiments/configs/<topic>/<name>.py`` defines ``get_config()`` returning an
``ml_collections.ConfigDict``. Its module docstring starts with a one-line description and contains
``Command:`` and ``Expected:`` lines (``cs231n-jax list`` shows them).

Variants of one experiment live in one file, as in big_vision: the file lists them in
``VARIANTS = (...)``, its ``get_config(variant)`` builds each, and the command line names one as
``--config file.py:variant`` (``cnn/resnet_cifar10.py:56``); its docstring has one ``Command:`` and
``Expected:`` pair per variant, and without ``:variant`` the file's default variant runs.

``config.runner`` names the function that runs the experiment, as ``"module:function"`` with the
signature ``run(config, workdir) -> dict`` of final results; the default is image classification
through the engine, ``cs231n_jax.tasks.classification:run``. ``cs231n-jax eval`` calls the same
module's ``evaluate(config, workdir, split)``.

A config file is Python: loading it runs its code, and so does the runner it names (any module).
Run only config files you trust, as you would run only scripts you trust. On the command line,
``--config.runner=module:function`` is limited to the project's own modules (``cs231n_jax.*``),
so an override alone cannot make the command import other code.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import ml_collections

from cs231n_jax.errors import ConfigError

DEFAULT_RUNNER = "cs231n_jax.tasks.classification:run"
CONFIGS_ENV = "CS231N_JAX_CONFIGS"


def configs_root() -> Path:
  """Where experiment configs live: ``$CS231N_JAX_CONFIGS``, else the checkout's ``experiments/configs``,
  else the copy installed with the package."""
  if os.environ.get(CONFIGS_ENV):
    return Path(os.environ[CONFIGS_ENV])
  from cs231n_jax.packaged_configs import default_configs_root

  return default_configs_root()


def split_variant(path: str | os.PathLike) -> tuple[str, str | None]:
  """``"dir/file.py:arg"`` -> ``("dir/file.py", "arg")``; a path without ``:arg`` -> ``(path, None)``."""
  text = os.fspath(path)
  head, sep, arg = text.rpartition(":")
  return (head, arg) if sep and head.endswith(".py") else (text, None)


def load_config(path: str | os.PathLike) -> ml_collections.ConfigDict:
  """Import a config file and call its ``get_config()`` (``file.py:variant``: ``get_config(variant)``)."""
  path, variant = split_variant(path)
  p = Path(path)
  if not p.is_file():
    alt = configs_root() / p
    if not alt.is_file():
      raise ConfigError(f"--config: no such file {str(path)!r}")
    p = alt
  spec = importlib.util.spec_from_file_location(f"_cs231n_config_{p.stem}", p)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    raise ConfigError(f"--config: {p} has a syntax error on line {e.lineno}") from None
  except ModuleNotFoundError as e:
    raise ConfigError(f"--config: {p}{_line_in(e, p)} imports {e.name!r}, which is not installed") from None
  except Exception as e:
    raise ConfigError(f"--config: {p}{_line_in(e, p)} failed to load ({_short(e)})") from None
  if not callable(getattr(module, "get_config", None)):
    raise ConfigError(f"--config: {p} defines no get_config()")
  args = _variant_args(module, p, variant)
  try:
    config = module.get_config(*args)
  except ConfigError:
    raise
  except ModuleNotFoundError as e:
    raise ConfigError(f"--config: {p}{_line_in(e, p)}: get_config() imports {e.name!r}, which is not installed") from None
  except Exception as e:
    raise ConfigError(f"--config: {p}{_line_in(e, p)}: get_config() raised {_short(e)}") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"--config: {p}: get_config() must return an ml_collections.ConfigDict")
  return config


def _variant_args(module, path: Path, variant: str | None) -> tuple[str, ...]:
  """The arguments for ``get_config``: ``(variant,)`` checked against the file's ``VARIANTS``, or ``()``."""
  variants = tuple(getattr(module, "VARIANTS", ()))
  if variant is None:
    required = [q for q in inspect.signature(module.get_config).parameters.values() if q.default is q.empty]
    if required:
      raise ConfigError(f"--config: {path} has variants: name one as {path.name}:<variant>, one of {variants}")
    return ()
  if not variants:
    raise ConfigError(f"--config: {path} has no variants, got ':{variant}' after the file name")
  if variant not in variants:
    raise ConfigError(f"--config: {path}: unknown variant {variant!r}, expected one of {variants}")
  return (variant,)


def variants_of(path: Path) -> tuple[str, ...]:
  """The ``VARIANTS`` a config file declares (read from its source, without running it)."""
  for node in ast.parse(path.read_text()).body:
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "VARIANTS" for t in node.targets):
      return tuple(ast.literal_eval(node.value))
  return ()


def _short(e: BaseException) -> str:
  first = (str(e).strip().splitlines() or [""])[0][:300]
  return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _line_in(e: BaseException, path: Path) -> str:
  """``" line N"``: the innermost line of the config file in ``e``'s traceback ("" if none)."""
  import traceback

  target = os.path.abspath(path)
  lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if os.path.abspath(f.filename) == target]
  return f" line {lines[-1]}" if lines else ""


RUNNER_PREFIX = "cs231n_jax."


def parse_value(text: str) -> Any:
  """A command-line value: a Python literal where it parses as one, else the string itself."""
  lowered = text.strip().lower()
  if lowered in ("true", "false"):
    return lowered == "true"
  if lowered in ("none", "null"):
    return None
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def apply_override(config: ml_collections.ConfigDict, dotted_key: str, text: str) -> None:
  """Set ``config.<dotted_key>`` from the command-line string ``text``; the key must exist and the
  value must have the existing field's type (ints are accepted for float fields)."""
  *parents, leaf = dotted_key.split(".")
  node = config
  for i, part in enumerate(parents):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      raise ConfigError(f"--config.{dotted_key}: unknown key {'.'.join(parents[: i + 1])!r}")
    node = node[part]
  if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
    raise ConfigError(f"--config.{dotted_key}: unknown key")
  current = node[leaf]
  # A string field takes the text as it is ("none" stays "none"), unless it is quoted.
  value = parse_value(text) if not isinstance(current, str) or text[:1] in "'\"" else text
  if isinstance(current, ml_collections.ConfigDict):
    raise ConfigError(f"--config.{dotted_key}: is a group of settings; set its fields instead")
  field_type = node.get_type(leaf) if hasattr(node, "get_type") else type(current)
  if current is not None or field_type is not type(None):
    expected = field_type if current is None else type(current)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)
    elif expected is tuple and isinstance(value, list):
      value = tuple(value)
    elif expected in (tuple, list) and not isinstance(value, (tuple, list)):
      value = (value,)
    if expected is not type(None) and not isinstance(value, expected) and value is not None:
      raise ConfigError(
          f"--config.{dotted_key}: expected {expected.__name__}, got {text!r} ({type(value).__name__})"
      )
  if dotted_key == "runner" and not (isinstance(value, str) and value.startswith(RUNNER_PREFIX)):
    # A runner is code the command imports and calls; from the command line only the project's own.
    raise ConfigError(f"--config.runner: expected a 'cs231n_jax.<module>:<function>' of this project, got {text!r} "
                      "(a runner runs code: name other modules in a config file you trust)")
  try:
    node[leaf] = value
  except (TypeError, ValueError) as e:
    raise ConfigError(f"--config.{dotted_key}: {e}") from None


def apply_overrides(config: ml_collections.ConfigDict, overrides: Sequence[str]) -> ml_collections.ConfigDict:
  """Apply ``key=value`` strings (``--config.`` already stripped) in order; returns ``config``."""
  for item in overrides:
    if "=" not in item:
      raise ConfigError(f"--config.{item}: expected --config.key=value")
    key, text = item.split("=", 1)
    apply_override(config, key, text)
  return config


def resolve_runner(config: ml_collections.ConfigDict, function: str | None = None) -> Callable[..., dict]:
  """The ``run(config, workdir)`` function ``config.runner`` names, or with ``function`` another
  function of the same module (``"evaluate"`` for ``cs231n-jax eval``)."""
  spec = config.get("runner", DEFAULT_RUNNER)
  module_name, sep, fn_name = spec.partition(":")
  if not sep:
    raise ConfigError(f"runner: expected 'module:function', got {spec!r}")
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise ConfigError(f"runner: cannot import {module_name!r} ({e})") from None
  fn = getattr(module, function or fn_name, None)
  if not callable(fn):
    if function:
      raise ConfigError(f"runner: {module_name} has no {function}(config, workdir, split): this experiment "
                        "cannot be evaluated from its checkpoints")
    raise ConfigError(f"runner: {module_name} has no function {fn_name!r}")
  return fn


def describe(path: Path, variant: str | None = None) -> dict[str, str]:
  """The first docstring line and the ``Command:`` / ``Expected:`` lines of a config file; for a
  file with variants, the pair whose command names ``file.py:variant`` (default: the first pair)."""
  source = path.read_text()
  doc = ast.get_docstring(ast.parse(source)) or ""
  lines = [ln.strip() for ln in doc.splitlines()]
  name = str(path.relative_to(configs_root())) if path.is_relative_to(configs_root()) else str(path)
  pairs: list[dict[str, str]] = []
  for i, ln in enumerate(lines):
    for key in ("command", "expected"):
      if ln.lower().startswith(key + ":"):
        rest = ln.split(":", 1)[1].strip()
        # A value may continue on the following indented lines until a blank line.
        j = i + 1
        while j < len(lines) and lines[j] and not any(lines[j].lower().startswith(k + ":") for k in ("command", "expected")):
          rest += " " + lines[j]
          j += 1
        if key == "command" or not pairs or pairs[-1].get("expected"):
          pairs.append({})
        pairs[-1][key] = rest
  chosen = pairs[0] if pairs else {}
  if variant is not None:
    name = f"{name}:{variant}"
    chosen = next((q for q in pairs if f"{path.name}:{variant} " in q.get("command", "") + " "), {})
  return {"name": name, "description": lines[0] if lines else "", "command": chosen.get("command", ""),
          "expected": chosen.get("expected", "")}


def list_configs(root: Path | None = None) -> list[dict[str, str]]:
  """Every experiment config under ``root`` (each variant of a file with variants) with its
  description, command and expected result."""
  root = root or configs_root()
  out = []
  for p in sorted(root.rglob("*.py")):
    if not p.name.startswith("_"):
      out += [describe(p, v) for v in variants_of(p)] or [describe(p)]
  return out
