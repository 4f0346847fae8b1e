"""Faster R-CNN: a stride-4 backbone, an RPN (9 anchors per cell: 3 sizes x 3 ratios; objectness + deltas;
256 sampled anchors per image), top-300 proposals after NMS at 0.7, RoIAlign 7x7 and a two-layer box head
with C + 1 class scores and class-specific deltas; the four losses. 56x56 scenes, 13 classes.
Variants (``faster_rcnn.py:<variant>``; the file alone is ``base``): ``base`` 200 steps of 16 (1.6 epochs);
``longer`` 1,400 steps of 16 (11.2 epochs), the cosine decay stretched to it; otherwise the same (Adam 2e-3,
30 warm-up steps) and the same as mask_rcnn.py's variants without the mask head.
Command: cs231n-jax train --config experiments/configs/detection/faster_rcnn.py --workdir workdirs/det_faster_rcnn
Expected: not yet measured (the measured two-stage run is mask_rcnn.py, the same detector plus a mask head).

Command: cs231n-jax train --config experiments/configs/detection/faster_rcnn.py:base --workdir workdirs/det_faster_rcnn
Expected: as the file alone (above): not yet measured.

Command: cs231n-jax train --config experiments/configs/detection/faster_rcnn.py:longer --workdir workdirs/det_faster_rcnn_longer
Expected: test box mAP@0.5 0.821, COCO mAP 0.578 (val 0.796 / 0.552; COCOeval agrees), class-agnostic 0.908 (val
  0.902); RPN recall at IoU 0.5 with 300 proposals 0.999 (val 0.997); val loss 1.013 / 0.680 / 0.604 / 0.518 / 0.504 /
  0.472 / 0.464 at steps 200-1400 (CPU-2 under load, nice 5, 11 min). Goal 0.80 test box mAP@0.5: met by 0.021
  (one seed; val 0.004 short). mask_rcnn.py:longer (the same plus the mask head): test 0.820, val 0.821.
"""

from cs231n_jax.tasks.detection import base_config

VARIANTS = ("base", "longer")


def get_config(variant: str = "base"):
  c = base_config("faster_rcnn")
  c.model.kwargs = {"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128}
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"batch_size": 16, "num_steps": 200, "eval_every": 200, "log_every": 50, "eval_batch_size": 50})
  if variant == "longer":
    c.train.update({"num_steps": 1400, "eval_every": 200})
  return c
