"""Shared Flax building blocks: activations, normalisation layers, stochastic regularising layers,
attention, masked convolutions and recurrent cells. NHWC throughout."""
