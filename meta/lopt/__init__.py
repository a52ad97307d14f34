"""Learned optimizers: a per-parameter MLP and a VeLO-style hierarchical one, meta-trained with ES/PES."""

# importing the architectures registers them with meta.lopt.model's table
from meta.lopt import mlp, velo

__all__ = ["mlp", "velo"]
