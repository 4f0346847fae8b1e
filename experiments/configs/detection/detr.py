"""DETR (set prediction with Hungarian matching) on 56x56 scenes: the single shot's backbone (stride 8, a 7x7 map),
a 2-layer transformer encoder and 2-layer decoder (dim 128, 4 heads), 12 object queries; loss weights 1 / 5 / 2 and
"no object" weight 0.1 (Carion et al. 2020), auxiliary losses on every decoder layer. 13 classes, 2000 training scenes.
Command: cs231n-jax train --config experiments/configs/detection/detr.py --workdir workdirs/det_detr
Expected: test mAP@0.5 0.0035, COCO mAP 0.0011 (val 0.0088 / 0.0029), own = COCOeval; class-agnostic test mAP@0.5 0.115
  (400 steps of 32, 6.4 epochs, CPU-2 under load, 13 minutes). Classification has not started to learn (val class loss
  2.38); DETR is known to need hundreds of epochs (Carion et al. 2020 train 500 on COCO).
"""

from cs231n_jax.tasks.detection import base_config


def get_config():
  c = base_config("detr")
  c.model.kwargs = {"widths": (16, 32, 64, 128), "group_norm": 8, "dim": 128, "heads": 4, "enc_layers": 2, "dec_layers": 2,
                    "ffn": 256, "num_queries": 12}
  c.optimizer.learning_rate = 1e-3
  c.optimizer.grad_clip_norm = 1.0
  c.optimizer.schedule.warmup_steps = 50
  c.train.update({"num_steps": 400, "eval_every": 200, "log_every": 50})
  return c
