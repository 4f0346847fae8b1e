"""Mask R-CNN: Faster R-CNN (RPN with 9 anchors per cell, top-300 proposals, RoIAlign box head) plus the
28x28 per-RoI mask head, on the 56x56 scenes (13 classes, 1-6 occluding objects).

Box mAP@0.5 / COCO mAP (own and COCOeval), the RPN's recall of ground truth at IoU 0.5 with 300
proposals, mask AP (COCOeval "segm") and mean mask IoU on 200 val / 400 test scenes.
Variants (``mask_rcnn.py:<variant>``; the file alone is ``base``): ``base`` 200 steps of 16 (1.6 epochs);
``long`` 800 steps of 16 (6.4 epochs), the cosine decay stretched to it; ``longer`` the same with 1,400 steps (11.2 epochs);
otherwise the same (Adam 2e-3, 30 warm-up steps).
Command: cs231n-jax train --config experiments/configs/detection/mask_rcnn.py --workdir workdirs/det_mask_rcnn
Expected: test box mAP@0.5 0.171, COCO mAP 0.099 (val 0.168 / 0.090; COCOeval agrees to 1e-16), class-agnostic
  0.360; RPN recall at IoU 0.5 with 300 proposals 0.999 (val 0.996); mask AP 0.078, mask AP@0.5 0.147, mean mask
  IoU 0.447 (CPU-2 under load, 200 steps of 16 = 1.6 epochs, 26 min). Goals (box mAP 0.80, mask IoU 0.7): not met.

Command: cs231n-jax train --config experiments/configs/detection/mask_rcnn.py:base --workdir workdirs/det_mask_rcnn
Expected: as the file alone (above): test box mAP@0.5 0.171, mean mask IoU 0.447; CPU-2.

Command: cs231n-jax train --config experiments/configs/detection/mask_rcnn.py:long --workdir workdirs/det_mask_rcnn_long
Expected: test box mAP@0.5 0.756, COCO mAP 0.515 (val 0.744 / 0.497; COCOeval agrees), class-agnostic 0.868; RPN
  recall 0.999 (val 0.999); mask AP 0.423, mask AP@0.5 0.678, mean mask IoU 0.665 (val 0.670); val loss 1.315 / 0.994 /
  0.883 / 0.844 at steps 200-800 (CPU-2 under load, nice 5, 24 min). Goals (0.80, 0.7): not met, 0.04 / 0.035 short.

Command: cs231n-jax train --config experiments/configs/detection/mask_rcnn.py:longer --workdir workdirs/det_mask_rcnn_longer
Expected: test box mAP@0.5 0.820, COCO mAP 0.580 (val 0.821 / 0.569; COCOeval agrees), class-agnostic 0.912; RPN
  recall 0.999 (val 0.999); mask AP 0.491, mask AP@0.5 0.746, mean mask IoU 0.706 (val 0.703); val loss 1.269 / 0.998 /
  0.861 / 0.811 / 0.792 / 0.766 / 0.755 at steps 200-1400 (CPU-2 under load, nice 5, 21 min). Goals (0.80, 0.7): met,
  by 0.020 / 0.006 (one seed).
"""

from cs231n_jax.tasks.detection import base_config

VARIANTS = ("base", "long", "longer")


def get_config(variant: str = "base"):
  c = base_config("faster_rcnn")
  c.model.kwargs = {"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128, "mask_head": True,
                    "mask_width": 16}
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"batch_size": 16, "num_steps": 200, "eval_every": 200, "log_every": 50, "eval_batch_size": 50})
  if variant == "long":
    c.train.update({"num_steps": 800, "eval_every": 200})
  elif variant == "longer":
    c.train.update({"num_steps": 1400, "eval_every": 200})
  return c
