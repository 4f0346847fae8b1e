"""A UCF-101-style folder of real videos (one subfolder per class; or train/ and test/ folders holding
them), decoded with PyAV into 16-frame 112x112 RGB clips at temporal stride 2, 3 clips per video for
Video Hit@1 / Hit@5; C3D-tiny's layout at that size. The data set is not on this machine: point
data.dir at it.

Command: cs231n-jax train --config experiments/configs/video/ucf101_folder.py --workdir workdirs/video_ucf \
  --config.data.dir=/path/to/UCF-101
Expected: not yet measured (no UCF-101 here; the reader is tested on mp4 / avi files the tests write)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.data.name = "video_folder"
  c.data.dir = ""
  c.data.frames = 16
  c.data.size = 112
  c.data.stride = 2
  c.data.clips_per_video = 3
  c.data.val_fraction = 0.1
  c.data.test_fraction = 0.2
  c.data.grayscale = False
  c.model.name = "c3d_tiny"
  c.model.fc = 512
  c.train.batch_size = 32
  c.train.num_steps = 5000
  c.train.eval_every = 500
  c.train.eval_batch_size = 16
  return c
