"""Shared Flax building blocks: activations, normalisation layers, regularising layers, and (added
by other issues) attention, masked convolutions and recurrent cells. NHWC throughout."""
