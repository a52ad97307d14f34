"""Evolution strategies' meta-gradient estimates: antithetic ES and Persistent ES over truncated unrolls.

Why ES and not backpropagation through the unroll: the meta-loss of an
optimizer over hundreds of inner steps is chaotic, and its true gradient
explodes or vanishes; ES estimates the gradient of the Gaussian-smoothed
meta-loss instead (Metz et al., "Understanding and correcting pathologies in
the training of learned optimizers", ICML 2019; VeLO trains with it).

- Antithetic ES (Salimans et al. 2017): for each pair, epsilon ~ N(0,
  sigma^2 I); ``g = sum_j (L(theta + eps_j) - L(theta - eps_j)) eps_j / (2
  sigma^2 P)``, unbiased for the smoothed loss's gradient.
- PES (Vicol, Metz & Sohl-Dickstein, "Unbiased Gradient Estimation in
  Unrolled Computation Graphs with Persistent Evolution Strategies", ICML
  2021, algorithm 2): an unroll is cut into truncations, each with a fresh
  perturbation, and each particle keeps the sum ``xi`` of every perturbation
  it has had since the unroll began; the estimate for a truncation is ``sum_j
  xi_j (L_j^+ - L_j^-) / (2 sigma^2 P)`` with the antithetic particles'
  ``xi`` opposite.  Unlike truncated ES it is unbiased for the whole unroll's
  loss, because a truncation's loss depends on the perturbations of all the
  truncations before it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["FlatTheta", "sample_perturbations", "antithetic_gradient", "PersistentPerturbations"]


class FlatTheta:
    """Meta-weights as one flat vector and back (``unflatten`` handles a leading batch dimension)."""

    def __init__(self, theta: Mapping[str, Tensor]) -> None:
        self.names = list(theta)
        self.shapes = [theta[name].shape for name in self.names]
        self.sizes = [theta[name].numel() for name in self.names]
        self.dim = sum(self.sizes)

    def flatten(self, theta: Mapping[str, Tensor]) -> Tensor:
        return torch.cat([theta[name].reshape(-1) for name in self.names])

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        leading = flat.shape[:-1]
        parts = flat.split(self.sizes, dim=-1)
        return {name: part.reshape((*leading, *shape)) for name, part, shape in zip(self.names, parts, self.shapes)}


def sample_perturbations(pairs: int, dim: int, sigma: float, generator: torch.Generator, device="cpu") -> Tensor:
    """``[pairs, dim]`` draws of N(0, sigma^2 I)."""
    return (torch.randn(pairs, dim, generator=generator) * sigma).to(device)


def antithetic_gradient(losses_plus: Tensor, losses_minus: Tensor, perturbations: Tensor, sigma: float) -> Tensor:
    """The antithetic estimate from each pair's two losses and its perturbation (or PES's accumulated ``xi``)."""
    pairs = len(perturbations)
    return ((losses_plus - losses_minus)[:, None] * perturbations).sum(0) / (2 * sigma**2 * pairs)


class PersistentPerturbations:
    """PES's running sums ``xi``: one per antithetic pair, reset when its unroll starts again."""

    def __init__(self, pairs: int, dim: int, device="cpu") -> None:
        self.accumulated = torch.zeros(pairs, dim, device=device)

    def gradient(self, perturbations: Tensor, losses_plus: Tensor, losses_minus: Tensor, sigma: float) -> Tensor:
        """Add this truncation's perturbations to ``xi``, then the estimate for this truncation's losses."""
        self.accumulated = self.accumulated + perturbations
        return antithetic_gradient(losses_plus, losses_minus, self.accumulated, sigma)

    def reset(self) -> None:
        self.accumulated = torch.zeros_like(self.accumulated)
