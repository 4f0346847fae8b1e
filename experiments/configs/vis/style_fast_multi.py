"""One transform network for two styles with conditional instance normalisation (lecture 13 V32;
Dumoulin et al. 2017): style_fast.py's setup with the styles immunohistochemistry and coffee; each
training row carries its style; after training, style weights (1 - a, a) blend the styles' scale and
shift, and the style losses against each style are reported for a = 0, 0.25, ..., 1.
Command: cs231n-jax train --config experiments/configs/vis/style_fast_multi.py --workdir workdirs/style_fast_multi
Expected: not yet measured (docs/results.md holds the measured numbers).
"""

from pathlib import Path

from cs231n_jax.config import load_config


def get_config():
  c = load_config(Path(__file__).with_name("style_fast.py"))
  c.task.styles = ("photo:immunohistochemistry", "photo:coffee")
  c.model.norm = "conditional_instance"
  return c
