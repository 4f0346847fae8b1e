"""Classification + localization (softmax + L2 multitask loss) on 56x56 scenes holding exactly one object.

13 classes (3 shapes, 10 digits); class accuracy and mean IoU of the predicted box on held-out scenes.
Widths 16-32-64-128 with group normalisation, the class head on globally max-pooled features, Adam 1e-3 with
30 warm-up steps and a cosine decay (without the warm-up the first Adam steps blow the L2 box loss up to ~100
and the class head dies at the class prior: accuracy 0.09 after 200 steps), 1500 steps of 32 on 20,000 training
scenes (the generator is deterministic from the seed, so scenes are free; with 2,000 scenes, 600 steps overfit:
training loss 0.042 against val 0.278, test 0.9025 / 0.631).
Variants (``classify_localize.py:<variant>``; the file alone is ``standard``): ``distort`` adds random affine
distortions of every training scene's digit (data.digit_distort: rotation up to 12 degrees, shear 0.15, scale
10%; val / test scenes unchanged), to test whether the class errors come from the held-out writers' digits.
``distort_wd`` is ``distort`` plus decoupled (AdamW-style) weight decay 1.0 on the kernels (``x -= lr_t wd x``; over the
cosine's 1,500 steps the summed learning rate is ~0.75, so a kernel left alone would shrink by exp(-0.75) ~ 0.47):
regularisation against the train 0.998 / test 0.97 gap, the augmented stream keeping the box IoU margin.
Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py --workdir workdirs/det_cls_loc
Expected: test class accuracy 0.9725, mean box IoU 0.752 (val 0.970 / 0.764; best val loss at step 1000 of 1500),
  20.5 min wall on CPU-2 under load (2 min of it generating the scenes). Goals 0.98 / 0.75: box IoU met, class
  accuracy not met. Every error is a digit read as another digit (shapes 100%); with --config.train.num_steps=2000
  --config.data.num_val=1000: test 0.9625 / 0.765 while training scenes score 0.998, so what is left is the held-out
  digits (other writers' images; the 20,000 scenes reuse the same 1,257 training digits), not too few scenes.

Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py:standard --workdir workdirs/det_cls_loc
Expected: as the file alone (above): test class accuracy 0.9725, mean box IoU 0.752; CPU-2.

Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py:distort --workdir workdirs/det_cls_loc_distort
Expected: test class accuracy 0.965, mean box IoU 0.763 (val 0.980 / 0.772; best val loss at step 1250 of 1500), 11.1 min
  wall on CPU-2 under load. Class accuracy still NOT met: 14 of 400 test errors, every one a digit read as another
  (1->8 x3, 9->5 x2, 7->9 x2, one each 8->7, 2->3, 8->6, 8->2, 7->3, 1->3, 2->8); against the standard run's 11
  errors this is within one run's noise: distorting the training digits does not close the held-out-writer gap.
  (Measured through a wrapper that passed data.digit_distort to the scene generator, before tasks/detection.py
  passed it itself; the scenes are the same.)

Command: cs231n-jax train --config experiments/configs/detection/classify_localize.py:distort_wd --workdir workdirs/det_cls_loc_distort_wd
Expected: test class accuracy 0.9825, mean box IoU 0.803 (val 0.985 / 0.802; best val loss at the last step, 1500), 7.6 min
  wall on CPU-2 under load (nice 10, load average ~4-5). Goals 0.98 / 0.75: both met, the class goal by one scene (7 of
  400 test errors, 8 allowed), every error a digit read as another (7->9 x2, one each 9->1, 8->2, 7->3, 1->8, 2->8); val
  3 of 200 (8->1 x2, 4->6). One seed: against distort's 14 test errors the gain is ~1.5 standard deviations of
  the count, so "wd closes the gap" is likely but not proven; the box IoU gain (0.763 -> 0.803, val 0.772 -> 0.802) is clearer.
  Seeds 1 and 2 (same command plus --config.seed=1 / =2; the seed sets the scenes of all three splits, drawn from the same
  held-out digit pools, the distortions, the init and the batch order): seed 1 test 0.980 / 0.805 (val 0.980 / 0.817, best
  step 1500), seed 2 test 0.9925 / 0.822 (val 0.935 / 0.809, best step 1250); 7.0 and 6.9 min wall, CPU-2 under load.
  Over seeds 0-2: test class accuracy 0.985 +- 0.007 (sample std), every seed >= 0.98 (seed 1 exactly at the goal), box IoU
  0.810 +- 0.010; val accuracy 0.967 +- 0.028 misses 0.98 (seed 2's val 13 errors of 200), val IoU 0.809 +- 0.008.
"""

from cs231n_jax.tasks.detection import base_config

VARIANTS = ("standard", "distort", "distort_wd")


def get_config(variant: str = "standard"):
  c = base_config("classify_localize")
  c.data.num_train = 20000
  c.model.kwargs = {"widths": (16, 32, 64, 128), "group_norm": 8, "class_pool": "max"}
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule.warmup_steps = 30
  c.train.update({"num_steps": 1500, "eval_every": 250, "log_every": 50})
  if variant in ("distort", "distort_wd"):
    # cs231n_jax.data.scenes.check_digit_distort names the accepted ranges
    c.data.digit_distort = {"rotate_deg": 12.0, "shear": 0.15, "scale": 0.1}
  if variant == "distort_wd":
    c.optimizer.weight_decay = 1.0  # decoupled, kernels only (optimizer.penalize = "kernels")
  return c
