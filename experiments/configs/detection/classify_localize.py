"""Classification + localization (softmax + L2 multitask loss) on 56x56 scenes holding exactly one object.

13 classes (3 shapes, 10 digits); class accuracy and mean IoU of the predicted box on held-out scenes.
Widths 16-32-64-128 with group normalisation, the class head on globally max-pooled features, Adam 1e-3 with
30 warm-up steps and a cosine decay (without the warm-up the first Adam steps blow the L2 box loss up to ~100
and the class head dies at the class prior: accuracy 0.09 after 200 steps), 1500 steps of 32 on 20,000 training
scenes (the generator is deterministic from the seed, so scenes are free; with 2,000 scenes, 600 steps overfit:
training loss 0.042 against val 0.278, test 0.9025 / 0.631).
Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py --workdir workdirs/det_cls_loc
Expected: with data.digit_distort (random rotation / shear / scale of every training scene's digit; val / test
  scenes unchanged): test class accuracy 0.965, mean box IoU 0.763 (val 0.980 / 0.772; best val loss at step 1250
  of 1500), 11.1 min wall on CPU-2 under load. Goals 0.98 / 0.75: box IoU met, class accuracy NOT met. Every
  test error is a digit read as another digit (14 of 400: 1->8 x3, 9->5 x2, 7->9 x2, one each 8->7, 2->3, 8->6,
  8->2, 7->3, 1->3, 2->8). Without the distortions the same command gave test 0.9725 / 0.752 (val 0.970 / 0.764):
  the distortions did not close the held-out-writer gap (3 test scenes either way is within one run's noise).
  Measured with data.digit_distort passed to the scene generator; tasks/detection.py's load_splits must pass
  d.get("digit_distort") to load_detection_scenes for the command to apply it (requested; without it the field is
  ignored and the run is the undistorted one).
"""

from cs231n_jax.tasks.detection import base_config


def get_config():
  c = base_config("classify_localize")
  c.data.num_train = 20000
  # Random affine distortions of every TRAINING scene's digit (val / test scenes unchanged): rotation up to
  # +-12 degrees, shear up to 0.15, scale +-10% (cs231n_jax.data.scenes.check_digit_distort).
  c.data.digit_distort = {"rotate_deg": 12.0, "shear": 0.15, "scale": 0.1}
  c.model.kwargs = {"widths": (16, 32, 64, 128), "group_norm": 8, "class_pool": "max"}
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"num_steps": 1500, "eval_every": 250, "log_every": 50})
  return c
