"""Lecture 11 / notes chapter 9: semantic segmentation, classification + localization, object detection and instance segmentation.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.detection import (
    detectors,  # noqa: F401  (registers the "detect" models)
    detr,  # noqa: F401  (registers detr)
    segmenters,  # noqa: F401  (registers the "segment" models)
    two_stage,  # noqa: F401  (registers faster_rcnn, with its optional mask head)
)
