"""Which host the CPU speed-ups act on: JAX's platform decided without starting a backend."""

import pytest

from cs231n_jax import cpu
from cs231n_jax.cpu import malloc


def decide(environ=None, plugins=(), devices=()):
  return cpu.jax_will_use_cpu(environ or {}, installed=lambda name: name in plugins,
                              exists=lambda path: path in devices)


@pytest.mark.parametrize("environ,plugins,devices,expected", [
    ({}, (), (), True),                                                   # a laptop, CI, this machine
    ({}, ("libtpu",), ("/dev/accel0",), False),                            # a Cloud TPU VM (v4 / v5e / v6e)
    ({}, ("libtpu",), ("/dev/vfio/0",), False),                            # a TPU VM with vfio devices (v5p)
    ({}, ("libtpu",), (), True),                                          # jax[tpu] installed, no chips
    ({}, ("jax_cuda12_plugin",), ("/dev/nvidia0",), False),                # a GPU host
    ({}, ("jax_cuda12_plugin",), (), True),                               # jax[cuda] on a CPU machine
    ({}, ("jax_rocm60_plugin",), ("/dev/kfd",), False),                    # an AMD GPU host
    ({"JAX_PLATFORMS": "cpu"}, ("libtpu",), ("/dev/accel0",), True),       # the user asked for the CPU
    ({"JAX_PLATFORMS": "tpu,cpu"}, (), (), False),
    ({"JAX_PLATFORMS": "cuda"}, (), (), False),
    ({"JAX_PLATFORM_NAME": "cpu"}, ("jax_cuda12_plugin",), ("/dev/nvidia0",), True),
])
def test_the_platform_decision(environ, plugins, devices, expected):
  assert decide(environ, plugins, devices) is expected


def test_the_command_keeps_glibcs_defaults_on_an_accelerator_host(monkeypatch):
  restarted = []
  monkeypatch.setattr(malloc.os, "execve", lambda *a: restarted.append(a))
  monkeypatch.setattr(malloc, "transparent_huge_pages_possible", lambda: True)
  monkeypatch.setattr(malloc, "glibc_version", lambda: (2, 36))
  monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
  monkeypatch.delenv("CS231N_JAX_XLA_DEFAULTS", raising=False)
  monkeypatch.setattr(malloc.sys, "platform", "linux")
  monkeypatch.setattr(malloc, "jax_will_use_cpu", lambda: False)
  malloc.restart_with_malloc_tunables()
  assert restarted == []
  monkeypatch.setattr(malloc, "jax_will_use_cpu", lambda: True)
  malloc.restart_with_malloc_tunables()
  assert len(restarted) == 1 and "glibc.malloc.hugetlb=1" in restarted[0][2]["GLIBC_TUNABLES"]
