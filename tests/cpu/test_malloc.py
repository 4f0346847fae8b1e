"""cs231n_jax.cpu.malloc: the command restarts itself once with its malloc tunables (huge pages,
freed memory kept), keeps the user's own tunables, leaves malloc alone when the user tunes it, and
can be turned off."""

import os
import subprocess
import sys

from cs231n_jax import cli
from cs231n_jax.cpu import malloc
from cs231n_jax.cpu.xla_flags import OPT_OUT_ENV

ON = malloc.TUNABLES


def test_the_tunables_are_huge_pages_and_kept_memory():
  assert ON.split(":") == ["glibc.malloc.hugetlb=1", "glibc.malloc.arena_max=1", "glibc.malloc.mmap_max=0",
                           "glibc.malloc.trim_threshold=1099511627776"]


def test_tunables_are_added_after_the_users_own():
  assert malloc.tunables_to_set({}, (2, 36)) == ON
  mine = "glibc.rtld.optional_static_tls=2048:glibc.pthread.rseq=0"
  assert malloc.tunables_to_set({"GLIBC_TUNABLES": mine}, (2, 35)) == f"{mine}:{ON}"


def test_users_malloc_choice_old_or_other_libc_and_opt_out_are_left_alone():
  for mine in ("glibc.malloc.hugetlb=0", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2",
               "glibc.pthread.rseq=0:glibc.malloc.trim_threshold=1048576"):
    assert malloc.tunables_to_set({"GLIBC_TUNABLES": mine}, (2, 36)) is None
  assert malloc.tunables_to_set({}, (2, 34)) is None  # glibc before the huge-page tunable existed
  assert malloc.tunables_to_set({}, None) is None  # musl, macOS, Windows
  assert malloc.tunables_to_set({OPT_OUT_ENV: "1"}, (2, 36)) is None
  # A tunable of another namespace whose name merely looks alike is not a malloc choice.
  other = "glibc.mallocx.hugetlb=0"
  assert malloc.tunables_to_set({"GLIBC_TUNABLES": other}, (2, 36)) == f"{other}:{ON}"


def test_glibc_version_reads_this_process():
  version = malloc.glibc_version()
  if sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
    assert version is not None and version >= (2, 17)
  else:
    assert version is None


def _env(**extra) -> dict:
  env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", OPT_OUT_ENV)}
  return {**env, **extra}


RESTART = ("import os; from cs231n_jax.cpu import malloc as g; "
           "print('run', os.getpid(), os.environ.get('GLIBC_TUNABLES')); g.restart_with_malloc_tunables(); "
           "print('work', os.getpid(), os.environ.get('GLIBC_TUNABLES'))")


def _expects_restart() -> bool:
  return (sys.platform.startswith("linux") and malloc.transparent_huge_pages_possible()
          and (malloc.glibc_version() or (0, 0)) >= malloc.FIRST_GLIBC)


def test_restart_runs_the_same_command_once_with_the_tunables():
  out = subprocess.run([sys.executable, "-c", RESTART], env=_env(GLIBC_TUNABLES="glibc.pthread.rseq=0"),
                       capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
  lines = [line.split(" ", 2) for line in out if line]
  if _expects_restart():
    both = f"glibc.pthread.rseq=0:{ON}"
    # exec keeps the process id; the output before the restart is not lost (flushed first).
    assert lines == [["run", lines[0][1], "glibc.pthread.rseq=0"], ["run", lines[0][1], both],
                     ["work", lines[0][1], both]]
  else:
    assert [line[0] for line in lines] == ["run", "work"]


def test_no_restart_when_turned_off_or_already_chosen():
  for env in (_env(**{OPT_OUT_ENV: "1"}), _env(GLIBC_TUNABLES="glibc.malloc.hugetlb=0")):
    out = subprocess.run([sys.executable, "-c", RESTART], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert [line.split(" ")[0] for line in out.split("\n") if line] == ["run", "work"]


def test_the_command_restarts_only_when_run_as_a_program(monkeypatch):
  calls = []
  monkeypatch.setattr(malloc, "restart_with_malloc_tunables", lambda: calls.append(1))
  monkeypatch.setattr(sys, "argv", ["cs231n-jax", "list"])
  assert cli.main() == 0  # as the console script calls it
  assert cli.main(["list"]) == 0  # from Python (tests, notebooks): no restart
  assert calls == [1]


def test_bench_records_carry_the_tunables(monkeypatch):
  from cs231n_jax.bench import harness

  monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0")
  assert harness.metadata()["glibc_tunables"] == "glibc.malloc.hugetlb=0"
