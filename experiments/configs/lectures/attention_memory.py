"""The notes' attention memory claim (ch. 11) measured: the temporary bytes XLA allocates for one
compiled single-head attention call, softmax(q kᵀ/√d) v, as N = M doubles from 256 to 2048 (d = 64).
Nothing is executed; the numbers are the compiler's.

Command: cs231n-jax train --config experiments/configs/lectures/attention_memory.py --workdir workdirs/attention_memory

Expected: CPU (XLA), measured: temporary bytes 524,288 / 2,097,152 / 8,388,608 / 33,554,432 for
N = 256 / 512 / 1024 / 2048, x4.0 per doubling; exactly 2 N² float32 (the scores and the weights), twice the
notes' N×M count.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.lecture_systems:run_attention_memory"
  config.seed = 0
  config.attention = ml_collections.ConfigDict(dict(sizes=(256, 512, 1024, 2048), dim=64, num_heads=1))
  return config
