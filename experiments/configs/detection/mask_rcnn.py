"""Mask R-CNN: Faster R-CNN (RPN with 9 anchors per cell, top-300 proposals, RoIAlign box head) plus the
28x28 per-RoI mask head, on the 56x56 scenes (13 classes, 1-6 occluding objects).

Box mAP@0.5 / COCO mAP (own and COCOeval), the RPN's recall of ground truth at IoU 0.5 with 300
proposals, mask AP (COCOeval "segm") and mean mask IoU on 200 val / 400 test scenes.
Command: cs231n-jax train --config experiments/configs/detection/mask_rcnn.py --workdir workdirs/det_mask_rcnn
Expected: test box mAP@0.5 0.171, COCO mAP 0.099 (val 0.168 / 0.090; COCOeval agrees to 1e-16), class-agnostic
  0.360; RPN recall at IoU 0.5 with 300 proposals 0.999 (val 0.996); mask AP 0.078, mask AP@0.5 0.147, mean mask
  IoU 0.447 (CPU-2 under load, 200 steps of 16 = 1.6 epochs, 26 min). Goals (box mAP 0.80, mask IoU 0.7): not met.
"""

from cs231n_jax.tasks.detection import base_config


def get_config():
  c = base_config("faster_rcnn")
  c.model.kwargs = {"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128, "mask_head": True,
                    "mask_width": 16}
  c.optimizer.learning_rate = 2e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"batch_size": 16, "num_steps": 200, "eval_every": 200, "log_every": 50, "eval_batch_size": 50})
  return c
