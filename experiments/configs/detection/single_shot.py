"""YOLO / SSD-style single-shot detector (7x7 grid, B = 3 base boxes, S x S x (5B + C)) on 56x56 scenes.

1-6 occluding shapes and scikit-learn digits (13 classes), 2000 training scenes; mAP@0.5 and COCO mAP
by the project's metric and by pycocotools' COCOeval on 200 val / 400 test scenes; the class-agnostic
mAP@0.5 separates localisation from classification.
Command: cs231n-jax train --config experiments/configs/detection/single_shot.py --workdir workdirs/det_single_shot
Expected: test mAP@0.5 0.367, COCO mAP@[.5:.95] 0.107 (val 0.327 / 0.099), class-agnostic test mAP@0.5 0.543; COCOeval agrees
  to 1e-15 (CPU-2 under load, 700 steps). Goal 0.80: not met. The previous config (widths 32-128, no normalisation,
  400 steps) measured 0.091.
"""

from cs231n_jax.tasks.detection import base_config


def get_config():
  c = base_config("single_shot")
  c.model.kwargs = {"widths": (16, 32, 64, 128), "group_norm": 8}
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"num_steps": 700, "eval_every": 350, "log_every": 50})
  return c
