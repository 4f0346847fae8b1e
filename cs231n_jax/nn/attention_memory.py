"""The notes' attention memory claim (ch. 11, L1325) measured, not computed.

"For a single self-attention head, N×M alignment and attention scalars" must be stored: memory
quadratic in the sequence length. :func:`compiled_temp_bytes` compiles one attention call with XLA
and reads the temporary bytes the compiled program allocates
(``jax.jit(f).lower(...).compile().memory_analysis().temp_size_in_bytes``), which is what the
weights (and scores) cost beyond the inputs and the output; :func:`memory_scaling` does it as
N = M doubles. Nothing is executed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cs231n_jax.nn.attention import scaled_dot_product_attention


def compiled_temp_bytes(num_queries: int, num_keys: int, dim: int = 64, num_heads: int = 1, dtype=jnp.float32) -> int:
  """Temporary bytes of the compiled ``softmax(q kᵀ/√d) v`` for (heads, N, d) queries and (heads, M, d)
  keys and values (outputs only: the weights are not returned, so they are temporaries)."""
  if min(num_queries, num_keys, dim, num_heads) <= 0:
    raise ValueError(f"attention_memory: sizes must be positive, got N={num_queries}, M={num_keys}, d={dim}, "
                     f"heads={num_heads}")
  q = jax.ShapeDtypeStruct((num_heads, num_queries, dim), dtype)
  kv = jax.ShapeDtypeStruct((num_heads, num_keys, dim), dtype)
  compiled = jax.jit(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]).lower(q, kv, kv).compile()
  analysis = compiled.memory_analysis()
  if analysis is None:
    raise RuntimeError("attention_memory: this backend's compiled programs report no memory analysis")
  return int(analysis.temp_size_in_bytes)


def memory_scaling(sizes=(256, 512, 1024, 2048), dim: int = 64, num_heads: int = 1) -> dict[int, int]:
  """{N: compiled temporary bytes} for self-attention with N = M."""
  return {n: compiled_temp_bytes(n, n, dim, num_heads) for n in sizes}
