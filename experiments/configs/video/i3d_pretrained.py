"""I3D inflation of the pretrained ImageNet MobileNetV2 (cs231n_jax.pretrained, torchvision's weights
converted to Flax; batch norms and depthwise convolutions included): every 2-D kernel repeated over 3
frames and divided by 3, replicate padding in time. On clips that repeat one photo 4 times the inflated
network's logits equal the 2-D network's on the photo; a clip with one frame shifted does not. Not
training: one compiled forward program (the study's runner), run in float32 and again with every variable in
float64 (study.float64), which shows the inflation exact and the float32 gap float32 rounding.

Command: cs231n-jax train --config experiments/configs/video/i3d_pretrained.py --workdir workdirs/video_i3d
Expected: on 4 photos at 112x112 (logits up to 27.6): constant clip vs 2-D max |difference| 2.67e-5 (float32;
  1e-6 of the largest logit), the top-5 classes identical; one frame shifted: 8.9 (measured on CPU-2)
"""

import ml_collections

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_inflate_pretrained"
  c.study = ml_collections.ConfigDict({"base": "mobilenet_v2", "time": 3, "frames": 4, "size": 112,
                                       "photos": ("chelsea", "coffee", "astronaut", "rocket"), "float64": True})
  return c
