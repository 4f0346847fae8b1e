"""Speed as ratios from one run: R-CNN against Fast R-CNN per image (same backbone and head, 200 proposals), single shot
against Faster R-CNN (the measured configs' networks, the whole detection of 16 scenes), sliding-window segmentation
against the flat FCN and the encoder-decoder; median of 5 timed calls after compiling, XLA FLOPs beside each.
Command: cs231n-jax train --config experiments/configs/detection/speed.py --workdir workdirs/det_speed
Expected: (CPU-2 under load average ~18, one run) R-CNN / Fast R-CNN 6.0x in wall time (1359 / 228 ms per image; 43.4x in
  FLOPs; goal 10x not met in time), Faster R-CNN / single shot 17.7x (153 / 8.7 ms), sliding window / flat FCN 153x
  (3175 / 20.8 ms), sliding window / encoder-decoder 1214x (2.6 ms).
"""

from cs231n_jax.detection.speed import base_config


def get_config():
  return base_config()
