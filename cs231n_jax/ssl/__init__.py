"""Self-supervised learning (notes chapter 14): pretext tasks, InfoNCE, SimCLR, MoCo, CPC, CLIP, BYOL, MAE, linear probes.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.ssl import mae, models  # noqa: F401  (register the ssl family)
