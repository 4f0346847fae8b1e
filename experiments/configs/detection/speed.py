"""Speed as ratios from one run: R-CNN against Fast R-CNN per image (same backbone and head, 200 proposals), with
RoIPool's share of Fast R-CNN and how RoIPool's cost scales with the map (the range-maximum ops.roi_pool against the
previous whole-map masked maximum); single shot against Faster R-CNN (the measured configs' networks, the whole
detection of 16 scenes), with RoIAlign's share of Faster R-CNN and Mask R-CNN; sliding-window segmentation against
the flat FCN and the encoder-decoder; median of 5 timed calls after compiling, XLA FLOPs beside each.
Command: cs231n-jax train --config experiments/configs/detection/speed.py --workdir workdirs/det_speed
Expected: (CPU-2 under load average ~10-12, two runs) R-CNN / Fast R-CNN 84.3x and 91.6x in wall time (590 / 7.0 and
  622 / 6.8 ms per image; 52.5x in FLOPs; goal 10x met), Faster R-CNN / single shot 13.8x and 15.3x, sliding window
  / flat FCN 404x and 132x, sliding window / encoder-decoder 459x and 680x; RoIPool per box 14.9 kFLOP at 14x14,
  28x28 and 56x56 maps (masked maximum: 259, 869, 3140 kFLOP); RoIAlign 79-88% of Faster R-CNN's detection.
"""

from cs231n_jax.detection.speed import base_config


def get_config():
  return base_config()
