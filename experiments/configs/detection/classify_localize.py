"""Classification + localization (softmax + L2 multitask loss) on 56x56 scenes holding exactly one object.

13 classes (3 shapes, 10 digits); class accuracy and mean IoU of the predicted box on held-out scenes.
Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py --workdir workdirs/det_cls_loc
Expected: not yet measured.
"""

from cs231n_jax.tasks.detection import base_config


def get_config():
  c = base_config("classify_localize")
  c.train.update({"num_steps": 800, "eval_every": 200})
  return c
