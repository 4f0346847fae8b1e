"""Execute the ``colab/`` notebooks top to bottom (the test suite and ``make notebooks`` do this).

    python -m cs231n_jax.notebooks colab/*.ipynb

Each notebook runs in a fresh kernel of this Python, with the notebook's folder as working
directory and matplotlib's inline backend (as on Colab, even where the caller set ``MPLBACKEND``,
as the test suite does); a failing cell raises with the cell's error. Outputs are not written back, so the
committed notebooks stay output-free.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Sequence

DEFAULT_TIMEOUT_S = 600


def execute_notebook(path: str | Path, timeout: int = DEFAULT_TIMEOUT_S):
  """Run every cell of the notebook at ``path``; returns the executed notebook node."""
  import nbformat
  from nbclient import NotebookClient

  path = Path(path)
  nb = nbformat.read(path, as_version=4)
  client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent.resolve())}})
  env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel picks the inline backend
  client.execute(env=env)
  return nb


def _outputs(nb):
  return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def printed_text(nb) -> str:
  """Everything the code cells of an executed notebook printed (their stream outputs), in order."""
  return "".join(o.get("text", "") for o in _outputs(nb))


def images_shown(nb) -> int:
  """How many images (PNG outputs, e.g. matplotlib figures) the code cells of an executed notebook showed."""
  return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


def main(argv: Sequence[str] | None = None) -> int:
  paths = list(sys.argv[1:] if argv is None else argv)
  failed = 0
  for p in paths:
    t0 = time.time()
    try:
      execute_notebook(p)
      print(f"ok    {p}  ({time.time() - t0:.1f} s)")
    except Exception as e:  # report every notebook, then fail
      failed += 1
      print(f"FAIL  {p}  ({time.time() - t0:.1f} s): {type(e).__name__}: {str(e).splitlines()[-1] if str(e) else ''}")
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
