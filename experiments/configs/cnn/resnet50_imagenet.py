"""ImageNet ResNet-50 (He et al. 2016, torchvision layout) for a TPU pod slice or a GPU node.

- data: TFDS ``imagenet2012`` (prepare it once with ``tfds build imagenet2012
  --file_format=array_record`` and the ILSVRC tarballs); the paper's scale augmentation (shorter
  side resized to a random L in [256, 480], a random 224x224 crop, on the host) and random
  horizontal flips (on the device); evaluation on the centre 224 crop of the 256-resized image;
- 90 epochs, global batch 1024 with the linear scaling rule (Goyal et al. 2017): learning rate
  0.1 x 1024 / 256 = 0.4 after a 5-epoch linear warm-up, divided by 10 at epochs 30, 60 and 80;
  SGD momentum 0.9, weight decay 1e-4 (L2 penalty 5e-5 * sum w^2 on every parameter);
- bf16 compute with float32 parameters and optimizer state; batch norm over the global batch
  (the ``sharded`` step: one jit program over a ('data',) mesh of every chip of every host);
- input: one process decodes and crops about 100-150 images/s (docs/benchmarks.md, measured on a
  2-core CPU), far below what an accelerator consumes: on a TPU VM or GPU host add grain worker
  processes, ``--config.data.workers=N`` with N up to the host's free cores (the batches do not
  change with N), and put the mean-image cache where every host reads it,
  ``--config.data.cache_dir=gs://BUCKET/cache``.

Command: cs231n-jax train --config experiments/configs/cnn/resnet50_imagenet.py --workdir gs://BUCKET/resnet50
Expected: about 76% top-1 (torchvision's V1 recipe: 76.13%; Flax's ImageNet example: 76.3-76.7% on
  TPU); not run here.
"""

import math

from cs231n_jax.tasks.classification import base_config

TRAIN_IMAGES = 1_281_167
BATCH = 1024
BASE_LR, BASE_BATCH = 0.1, 256
EPOCHS, WARMUP_EPOCHS, LR_DROP_EPOCHS = 90, 5, (30, 60, 80)


def get_config():
  steps_per_epoch = math.ceil(TRAIN_IMAGES / BATCH)  # the last batch is padded (masked)
  c = base_config()
  c.data.name = "tfds"
  c.data.tfds_name = "imagenet2012"
  c.data.train_split = "train"
  c.data.val_split = "validation"
  c.data.test_split = "validation"
  c.data.image_size = 224
  c.data.train_scale_range = (256, 480)
  c.data.augment = "flip"
  c.model.name = "resnet50"
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = BASE_LR * BATCH / BASE_BATCH
  c.optimizer.momentum = 0.9
  c.optimizer.l2 = 5e-5
  c.optimizer.penalize = "all"
  c.optimizer.schedule.name = "piecewise"
  c.optimizer.schedule.warmup_steps = WARMUP_EPOCHS * steps_per_epoch
  # Boundaries count from the end of the warm-up.
  c.optimizer.schedule.boundaries = tuple((e - WARMUP_EPOCHS) * steps_per_epoch for e in LR_DROP_EPOCHS)
  c.optimizer.schedule.decay_rate = 0.1
  c.train.batch_size = BATCH
  c.train.num_epochs = EPOCHS
  c.train.eval_every = steps_per_epoch
  c.train.eval_batch_size = BATCH
  c.train.step = "sharded"
  c.train.compute_dtype = "bfloat16"
  return c
