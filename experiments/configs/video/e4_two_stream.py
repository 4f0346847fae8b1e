"""E4, the two-stream claims on motion-defined classes (E1's left / right clips, 8 frames at 16x16): the
spatial stream (RGB frames) and the temporal stream (stacked optical flow; here the generator's ground
truth, standing in for Brox-Malik flow) trained separately through the engine, then fused by averaging
softmax and by a linear SVM on the streams' validation scores; then the flow stream against a raw-pixel
3-D CNN (C3D-tiny) at 50 / 200 / 1,000 training clips. Adam 1e-3, batch 32, 100 steps per run
(the temporal stream's run at 1,000 clips is the one fused above).

Command: cs231n-jax train --config experiments/configs/video/e4_two_stream.py --workdir workdirs/video_e4
Expected: test Video Hit@1 on 1,000 clips: spatial 0.5040, temporal 1.0000, fusion by averaged softmax 1.0000,
  by linear SVM 1.0000; flow stream vs C3D-tiny at 50 / 200 / 1,000 clips: 1.0000 / 1.0000 everywhere (measured
  on CPU-2: E1 is too easy to separate them)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_two_stream"
  c.data.kind = "motion"
  c.data.frames = 8
  c.data.size = 16
  c.data.flow = "ground_truth"
  c.data.num_train = 1000
  c.data.num_val = 250
  c.data.num_test = 1000
  c.train.num_steps = 100
  c.train.eval_every = 50
  c.train.progress = False
  c.study = {"train_sizes": (50, 200, 1000), "flow_model": "temporal_stream", "pixel_model": "c3d_tiny",
             "model_kwargs": {}, "flow": "ground_truth", "timing_batch": 32}
  return c
