"""Where the trained recurrent attention model looks: test canvases with its 4 glimpse locations (the
8x8 patch of each glimpse drawn as a square, numbered), its answer and the label.

``python -m cs231n_jax.studies.rl_attention_figure CONFIG WORKDIR OUT.png``"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax import plotting
from cs231n_jax.config import load_config
from cs231n_jax.rl import attention as A
from cs231n_jax.tasks import rl
from cs231n_jax.train import loop


def draw(config_path: str, workdir: str, out: str, num: int = 8) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  c = load_config(config_path)
  task, data = rl.attention_task(c), rl.attention_data(c)
  state, _, _ = loop.restore_best(task, data, c, workdir)
  src = rl.attention_sources(c)["test"].arrays
  idx = np.arange(0, num * c.data.eval_placements * 7, c.data.eval_placements * 7)[:num]
  size, m = c.data.canvas_size, c.model
  canvases = A.paste(jnp.asarray(src["image"][idx]), jnp.asarray(src["position"][idx]), size)
  model = A.RecurrentAttention(num_glimpses=m.num_glimpses, glimpse_size=m.glimpse_size, num_scales=m.num_scales,
                               hidden=m.hidden, glimpse_hidden=m.glimpse_hidden, location_std=m.location_std,
                               locations=m.locations)
  out_ = model.apply({"params": state["task"]["params"]}, canvases, jax.random.PRNGKey(0), sample=False)
  locs, answers = np.asarray(out_["location"]), np.asarray(out_["logits"][:, -1].argmax(-1))
  fig, axes = plt.subplots(1, num, figsize=(2.0 * num, 2.3))
  for k, ax in enumerate(axes):
    ax.imshow(np.asarray(canvases[k]), cmap="gray_r", vmin=0, vmax=1)
    for t, loc in enumerate(locs[k]):
      r, col = np.asarray(A.patch_corner(jnp.asarray(loc), size, m.glimpse_size))
      ax.add_patch(plt.Rectangle((col - 0.5, r - 0.5), m.glimpse_size, m.glimpse_size, fill=False, color=f"C{t}", lw=1.5))
      ax.text(col, r - 1, str(t + 1), color=f"C{t}", fontsize=8)
    ax.set_title(f"label {src['label'][idx[k]]}, says {answers[k]}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.tight_layout()
  plotting.save_figure(fig, out, dpi=110)
  plt.close(fig)


if __name__ == "__main__":
  draw(*sys.argv[1:4])
