"""The ``cs231n-jax`` command.

    cs231n-jax train --config FILE --workdir DIR [--config.key=value ...]
    cs231n-jax eval  --config FILE --workdir DIR [--split test]
    cs231n-jax list [experiments|models]
    cs231n-jax data fetch cifar10 --dir DIR
    cs231n-jax demo [--workdir DIR]
    cs231n-jax bench STUDY [--out DIR]          (cs231n_jax.bench.cli)
    cs231n-jax convert-weights --weights F --model NAME --out DIR   (cs231n_jax.convert.pytorch)

Usage errors (unknown keys, wrong types, impossible values, missing files) print one line on
stderr and exit with status 2; a diverged run exits 1; success and preemption exit 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Sequence

from cs231n_jax.command_line import EXIT_FAILED, EXIT_USAGE, PROG, Parser, UsageError
from cs231n_jax.errors import Cs231nError

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
    "vis": ("cs231n_jax.vis.cli:main", "visualizations of a network (saliency, occlusion, DeepDream, ...) as PNGs"),
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


def run_experiment(config_path: str, workdir: str, overrides: Sequence[str]) -> dict:
  from cs231n_jax.config import apply_overrides, load_config, resolve_runner

  config = apply_overrides(load_config(config_path), overrides)
  runner = resolve_runner(config)
  results = runner(config, workdir)
  import jax

  if jax.process_index() == 0 and results is not None:
    from etils import epath  # a workdir may be gs://... (pathlib would make a local ./gs:/ folder)

    epath.Path(workdir).mkdir(parents=True, exist_ok=True)
    (epath.Path(workdir) / "results.json").write_text(json.dumps(results, indent=2, default=float))
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


def main(argv: Sequence[str] | None = None) -> int:
  if argv is None:  # run as the command (not called from Python): restart once with the malloc tunables
    from cs231n_jax.cpu.malloc import restart_with_malloc_tunables

    restart_with_malloc_tunables()
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv and argv[0] in DELEGATED:  # subcommands with their own argument parsers
    module, function = DELEGATED[argv[0]][0].split(":")
    return getattr(importlib.import_module(module), function)(argv[1:])
  try:
    args, extra = build_parser().parse_known_args(argv)
    overrides = split_overrides(extra) if args.command in ("train", "eval") else []
    if extra and args.command not in ("train", "eval"):
      raise UsageError(f"unrecognized arguments {' '.join(extra)}")
    if args.command == "train":
      from cs231n_jax.train import parallel

      parallel.initialize(args.coordinator, args.num_processes, args.process_id)
      run_experiment(args.config, args.workdir, overrides)
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
  except Cs231nError as e:
    from cs231n_jax.train.loop import TrainingDiverged

    print(f"{PROG}: error: {e}", file=sys.stderr)
    return EXIT_FAILED if isinstance(e, TrainingDiverged) else EXIT_USAGE
  return 0


if __name__ == "__main__":
  sys.exit(main())
