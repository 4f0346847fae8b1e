"""The ``cs231n-jax`` command.

    cs231n-jax train --config FILE --workdir DIR [--config.key=value ...]
    cs231n-jax eval  --config FILE --workdir DIR [--split test]
    cs231n-jax list [experiments|models]
    cs231n-jax data fetch cifar10 --dir DIR
    cs231n-jax demo [--workdir DIR]
    cs231n-jax bench STUDY [--out DIR]          (cs231n_jax.bench.cli)
    cs231n-jax convert-weights --weights F --model NAME --out DIR   (cs231n_jax.convert.pytorch)

Every failure prints one line on stderr and exits with a documented status
(:mod:`cs231n_jax.command_line`, docs/reliability.md): usage errors (unknown keys, wrong types,
impossible values, missing or malformed files) 2, a diverged run 1, a workdir in use by another run 3,
a workdir that cannot be written (full disk, read-only) 4, an internal error 70; success and
preemption exit 0. The traceback goes to ``<workdir>/error.log``; ``--verbose`` prints it too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from typing import Any, Sequence

from cs231n_jax.command_line import (
  EXIT_BUSY,
  EXIT_INTERNAL,
  EXIT_OK,
  EXIT_STORAGE,
  EXIT_USAGE,
  PROG,
  Parser,
  UsageError,
  exit_code,
  one_line,
)

DEMO_CONFIG = "digits/convnet_bn.py"
DEMO_WORKDIR = "workdirs/demo"


def add_run_args(p: argparse.ArgumentParser) -> None:
  p.add_argument("--config", required=True, help="experiment config file (experiments/configs/...)")
  p.add_argument("--workdir", required=True, help="where checkpoints, metrics and plots go")


def add_process_args(p: argparse.ArgumentParser) -> None:
  g = p.add_argument_group("multi-process (manual launch; Cloud TPU needs none of these)")
  g.add_argument("--coordinator", help="host:port of process 0")
  g.add_argument("--num-processes", type=int)
  g.add_argument("--process-id", type=int)


# Subcommands whose module parses its own arguments: name -> ("module:function", help). The function
# takes the arguments after the name and returns the exit code. Imported only when that command runs.
DELEGATED = {
    "bench": ("cs231n_jax.bench.cli:main", "compile-time / step-time benchmarks"),
    "convert-weights": ("cs231n_jax.convert.pytorch:run", "PyTorch state_dict -> Flax checkpoint"),
    "classify": ("cs231n_jax.pretrained.cli:main", "top-5 ImageNet labels of images by a pretrained network"),
    "vis": ("cs231n_jax.vis.cli:main", "network visualizations as PNGs (saliency, occlusion, DeepDream, inversion, texture, style, ...)"),
    "detect": ("cs231n_jax.detection.cli:detect_main", "run a trained detector's workdir on an image, write a PNG"),
    "segment": ("cs231n_jax.detection.cli:segment_main", "run a trained segmenter's workdir on an image, write a PNG"),
}


def build_parser() -> Parser:
  parser = Parser(prog=PROG, description="CS231n in JAX/Flax.")
  sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
  p = sub.add_parser("train", help="train an experiment config (resumes if the workdir has checkpoints)")
  add_run_args(p)
  add_process_args(p)
  p = sub.add_parser("eval", help="evaluate the best checkpointed parameters of a run")
  add_run_args(p)
  p.add_argument("--split", default="test", choices=("train", "val", "test"))
  p = sub.add_parser("list", help="list experiments (with expected results) or models")
  p.add_argument("what", nargs="?", default="experiments", choices=("experiments", "models"))
  p = sub.add_parser("data", help="data sets")
  data_sub = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
  f = data_sub.add_parser("fetch", help="download and verify a data set")
  f.add_argument("dataset", choices=("cifar10",))
  f.add_argument("--dir", required=True)
  f.add_argument("--url", help="a mirror of the official tarball (default: the official URL)")
  f.add_argument("--md5", help="the expected MD5 of the tarball (default: the official one)")
  for name, (_, help_text) in DELEGATED.items():
    sub.add_parser(name, help=f"{help_text} ({PROG} {name} --help)", add_help=False)
  p = sub.add_parser("demo", help="train the ThreeLayerConvNet on the embedded digits")
  p.add_argument("--workdir", default=DEMO_WORKDIR)
  return parser


def split_overrides(extra: Sequence[str]) -> list[str]:
  """``--config.a.b=v`` (or ``--config.a.b v``) arguments → ``["a.b=v", ...]``."""
  out, i = [], 0
  while i < len(extra):
    arg = extra[i]
    if not arg.startswith("--config."):
      raise UsageError(f"unrecognized argument {arg!r} (config overrides are --config.key=value)")
    body = arg[len("--config."):]
    if "=" not in body:
      if i + 1 >= len(extra):
        raise UsageError(f"{arg} needs a value")
      body, i = f"{body}={extra[i + 1]}", i + 1
    out.append(body)
    i += 1
  return out


def run_experiment(config_path: str, workdir: str, overrides: Sequence[str], config=None) -> dict:
  from cs231n_jax.config import apply_overrides, load_config, resolve_runner

  if config is None:
    config = apply_overrides(load_config(config_path), overrides)
  runner = resolve_runner(config)
  results = runner(config, workdir)
  import jax

  if jax.process_index() == 0 and results is not None:
    from etils import epath  # a workdir may be gs://... (pathlib would make a local ./gs:/ folder)

    epath.Path(workdir).mkdir(parents=True, exist_ok=True)
    from cs231n_jax.train.metrics import write_whole

    write_whole(epath.Path(workdir) / "results.json", json.dumps(results, indent=2, default=float))
  return results


def cmd_list(what: str) -> None:
  if what == "models":
    from cs231n_jax.models.registry import count_params, default_input_shape
    from cs231n_jax.zoo import FAMILIES, list_models

    for family in FAMILIES:  # parameters only where the registered input shape builds the model
      models = list_models(family)
      if not models:
        continue
      print(f"{family} ({len(models)} models)")
      for name, desc in models.items():
        shape = default_input_shape(name)
        size = f"{'-':>13}" if shape is None else f"{count_params(name):>13,} params at {'x'.join(map(str, shape)):<9}"
        print(f"  {name:<26} {size:<34} {desc}")
    return
  from cs231n_jax.config import list_configs

  for info in list_configs():
    print(f"{info['name']}\n    {info['description']}")
    if info["expected"]:
      print(f"    expected: {info['expected']}")


class Interrupted(BaseException):
  """SIGTERM / SIGINT outside the training loop (which catches them itself): during start-up."""

  def __init__(self, signum: int):
    super().__init__(signum)
    self.signum = signum


@contextlib.contextmanager
def signals_interrupt():
  """While the block runs, SIGTERM / SIGINT raise :class:`Interrupted` (the loop installs its own
  handlers while it trains and evaluates, and restores these after)."""

  def handler(signum, frame):
    raise Interrupted(signum)

  previous = {}
  try:
    for s in (signal.SIGTERM, signal.SIGINT):
      previous[s] = signal.signal(s, handler)
  except ValueError:  # not the main thread
    pass
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


class FailureLog:
  """Collects log records (orbax's, through absl) and warnings in memory while a command runs; on a
  failure writes them with the full traceback to ``<workdir>/error.log`` (or a temporary file when
  the workdir cannot take it), so the terminal gets one line. ``--verbose`` prints them too."""

  MAX_RECORDS = 2000

  def __init__(self, verbose: bool):
    self.verbose = verbose
    self.workdir: str | None = None
    self.lines: list[str] = []
    self.seen_warnings: set[str] = set()
    self._handler = None
    self._saved: dict[str, Any] = {}

  def __enter__(self):
    log = self

    class Keep(logging.Handler):
      def emit(self, record):
        try:
          log.add(f"{record.levelname} {record.name}: {record.getMessage()}")
          if record.exc_info:
            log.add("".join(traceback.format_exception(*record.exc_info)))
        except Exception:  # a log record must never fail the command
          pass

    self._handler = Keep(level=logging.INFO)
    absl_logger = logging.getLogger("absl")
    self._saved = {"propagate": absl_logger.propagate, "showwarning": warnings.showwarning,
                   "unraisablehook": sys.unraisablehook, "excepthook": threading.excepthook}
    absl_logger.addHandler(self._handler)
    if not self.verbose:
      absl_logger.propagate = False  # orbax's errors and tracebacks go to the log, not the terminal
    warnings.showwarning = self.show_warning
    sys.unraisablehook = self.unraisable       # asyncio's "Event loop is closed" at shutdown, and the like
    threading.excepthook = self.thread_failed  # orbax's background threads
    return self

  def __exit__(self, *exc):
    absl_logger = logging.getLogger("absl")
    absl_logger.removeHandler(self._handler)
    absl_logger.propagate = self._saved["propagate"]
    warnings.showwarning = self._saved["showwarning"]
    sys.unraisablehook = self._saved["unraisablehook"]
    threading.excepthook = self._saved["excepthook"]

  def add(self, text: str) -> None:
    self.lines.append(text)
    del self.lines[: -self.MAX_RECORDS]
    if self.verbose:
      print(text, file=sys.stderr)

  def show_warning(self, message, category, filename, lineno, file=None, line=None):
    text = str(message).strip()
    self.add(f"WARNING {category.__name__} ({filename}:{lineno}): {text}")
    if text in self.seen_warnings:  # the same warning twice (e.g. from two processes' paths) is news once
      return
    self.seen_warnings.add(text)
    if not self.verbose:
      print(f"{PROG}: warning: {text.splitlines()[0] if text else category.__name__}", file=sys.stderr)

  def unraisable(self, info):
    self.add(f"ignored exception in {info.object!r}: " +
             "".join(traceback.format_exception(info.exc_type, info.exc_value, info.exc_traceback)))

  def thread_failed(self, args):
    self.add(f"exception in thread {getattr(args.thread, 'name', '?')}: " +
             "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

  def write(self, error: BaseException) -> str | None:
    """Write the records and ``error``'s traceback; returns the file's path (None if nowhere)."""
    text = "\n".join([f"{PROG} {' '.join(sys.argv[1:])}", *self.lines, "",
                      "".join(traceback.format_exception(type(error), error, error.__traceback__))])
    name = "error.log"
    if "jax" in sys.modules:
      with contextlib.suppress(Exception):
        import jax

        if jax.process_count() > 1:
          name = f"error.{jax.process_index()}.log"
    candidates = []
    if self.workdir and "://" not in self.workdir:
      candidates.append(os.path.join(self.workdir, name))
    candidates.append(os.path.join(tempfile.gettempdir(), f"{PROG}-{os.getpid()}-{name}"))
    for path in candidates:
      try:
        if not os.path.isdir(os.path.dirname(path)):
          continue
        with open(path, "w") as f:
          f.write(text)
        return path
      except OSError:
        continue
    return None


def main(argv: Sequence[str] | None = None) -> int:
  """The ``cs231n-jax`` command. Every failure is one line on stderr with a documented exit code
  (:mod:`cs231n_jax.command_line`); the traceback goes to ``<workdir>/error.log`` (``--verbose``:
  to the terminal too). Run as the command, a failed process ends at once (``os._exit``), so no
  library thread left behind can keep it alive."""
  as_command = argv is None
  if as_command:  # run as the command (not called from Python): restart once with the malloc tunables
    from cs231n_jax.cpu.malloc import restart_with_malloc_tunables

    restart_with_malloc_tunables()
  argv = list(sys.argv[1:] if argv is None else argv)
  delegated = bool(argv) and argv[0] in DELEGATED
  verbose = not delegated and "--verbose" in argv
  if verbose:
    argv = [a for a in argv if a != "--verbose"]
  log = FailureLog(verbose)
  code = EXIT_OK
  with log, signals_interrupt():
    try:
      code = _run(argv, log)
    except Interrupted as e:
      name = signal.Signals(e.signum).name
      trains = bool(argv) and argv[0] in ("train", "demo")
      what = "before training started: nothing to save; run the same command to start again" if trains else "; stopped"
      print(f"{PROG}: interrupted by {name}{' ' if trains else ''}{what}", file=sys.stderr)
      code = EXIT_OK if trains else 128 + e.signum
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - the one place every failure is reported
      code = exit_code(e)
      if code == EXIT_BUSY:
        log.workdir = None  # the workdir is another run's: write nothing there
      where = log.write(e) if (code not in (EXIT_USAGE, EXIT_BUSY) or verbose) else None
      if verbose:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
      if isinstance(e, KeyboardInterrupt):
        print(f"{PROG}: interrupted", file=sys.stderr)
        code = 128 + signal.SIGINT
      else:
        kind = "internal error (a bug; please report it)" if code == EXIT_INTERNAL else "error"
        tail = f" (details in {where})" if where and code in (EXIT_INTERNAL, EXIT_STORAGE) else ""
        print(f"{PROG}: {kind}: {one_line(e)}{tail}", file=sys.stderr)
  if as_command and code != EXIT_OK:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # orbax's non-daemon threads (a failed save) must not hold the process at exit
  return code


def _run(argv: list[str], log: FailureLog) -> int:
  if argv and argv[0] in DELEGATED:  # subcommands with their own argument parsers
    module, function = DELEGATED[argv[0]][0].split(":")
    return getattr(importlib.import_module(module), function)(argv[1:])
  args, extra = build_parser().parse_known_args(argv)
  overrides = split_overrides(extra) if args.command in ("train", "eval") else []
  if extra and args.command not in ("train", "eval"):
    raise UsageError(f"unrecognized arguments {' '.join(extra)}")
  if getattr(args, "workdir", None):
    log.workdir = args.workdir
  if args.command == "train":
    from cs231n_jax.config import apply_overrides, load_config
    from cs231n_jax.train import lock, parallel

    parallel.initialize(args.coordinator, args.num_processes, args.process_id)  # before anything touches a backend
    config = apply_overrides(load_config(args.config), overrides)  # a bad config fails before any file is made
    import jax

    held = lock.acquire(args.workdir, jax.process_index(), jax.process_count())
    try:
      run_experiment(args.config, args.workdir, overrides, config=config)
    finally:
      lock.release(held)
  elif args.command == "eval":
    from cs231n_jax.config import apply_overrides, load_config, resolve_runner

    config = apply_overrides(load_config(args.config), overrides)
    evaluate = resolve_runner(config, "evaluate")
    print(json.dumps(evaluate(config, args.workdir, args.split), indent=2, default=float))
  elif args.command == "list":
    cmd_list(args.what)
  elif args.command == "data":
    from cs231n_jax.data import cifar10

    folder = cifar10.fetch(args.dir, url=args.url or cifar10.URL, md5=args.md5 or cifar10.MD5)
    print(f"CIFAR-10 is in {folder}")
  elif args.command == "demo":
    from cs231n_jax.baselines import logistic_regression_digits
    from cs231n_jax.config import configs_root

    results = run_experiment(str(configs_root() / DEMO_CONFIG), args.workdir, [])
    if results and "test_accuracy" in results:
      baseline = logistic_regression_digits()
      print(f"demo: test accuracy {results['test_accuracy']:.4f} on the held-out digits "
            f"(curves, confusion matrix and checkpoints in {args.workdir})")
      print(f"demo: baseline, scikit-learn logistic regression on the same split: test accuracy "
            f"{baseline['test_accuracy']:.4f}")
  return EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
