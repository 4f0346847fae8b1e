"""Speed as ratios from one run: R-CNN against Fast R-CNN per image (same backbone and head, 200 proposals), single shot
against Faster R-CNN (the measured configs' networks, the whole detection of 16 scenes), sliding-window segmentation
against the flat FCN and the encoder-decoder; median of 5 timed calls after compiling, XLA FLOPs beside each.
Command: cs231n-jax train --config experiments/configs/detection/speed.py --workdir workdirs/det_speed
Expected: not yet measured.
"""

from cs231n_jax.detection.speed import base_config


def get_config():
  return base_config()
