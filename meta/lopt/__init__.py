"""Learned optimizers: a per-parameter MLP, the same on a nominal Adam term, and a VeLO-style hierarchical one,
meta-trained with ES/PES."""

# importing the architectures registers them with meta.lopt.model's table
from meta.lopt import mlp, nominal, velo

__all__ = ["mlp", "nominal", "velo"]
