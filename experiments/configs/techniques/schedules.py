"""The learning-rate schedules of lecture 7 built from config blocks by make_schedule, and plotted.

Step, exponential, 1/t, cosine, linear, piecewise, cosine restarts and warm-up, each built by
cs231n_jax.optim.make_schedule from a config block like the one every optimizer config has.

Command: cs231n-jax train --config experiments/configs/techniques/schedules.py --workdir workdirs/schedules
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"; 7 s): schedules.png and the rates at
  steps 0, 250, 500, 999 (T = 1000) in results.json, the closed-form values: at step 500 exponential
  k=3 per T 0.0223 (= 0.1 e^-1.5), 1/t k=9 per T 0.0182, step (half every 200) 0.025, cosine 0.05,
  piecewise 0.01; warm-up + cosine 0 at step 0 and 0.0933 at 250.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.optimizer_race:run_schedules"
  c.learning_rate = 0.1
  c.num_steps = 1000
  # label -> an optimizer.schedule block (labels are ConfigDict keys: no dots).
  c.schedules = ml_collections.ConfigDict({
      "constant": {"name": "constant"},
      "step_half_every_200": {"name": "step", "decay_steps": 200, "decay_rate": 0.5},
      "exponential_k3_per_1000": {"name": "exponential", "k": 3.0, "decay_steps": 1000},
      "inverse_time_k9_per_1000": {"name": "inverse_time", "k": 9.0, "decay_steps": 1000},
      "cosine": {"name": "cosine"},
      "linear": {"name": "linear"},
      "piecewise_div10_at_500_750": {"name": "piecewise", "boundaries": (500, 750), "decay_rate": 0.1},
      "cosine_restarts_250": {"name": "cosine_restarts", "decay_steps": 250},
      "warmup_100_cosine": {"name": "cosine", "warmup_steps": 100},
  })
  return c
