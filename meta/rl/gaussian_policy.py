"""A Gaussian MLP policy for the gradient-based meta-learners, called functionally.

The policy of MAML-RL (Finn, Abbeel & Levine, 2017, Sec. 5.3) as garage and
metaworld-algorithms build it: a tanh MLP from the observation to the action
mean and a state-independent log standard deviation, both adapted by the inner
step. ``forward`` returns ``(mean, log_std)`` so that the inner loop's
functional call (``meta.inner_loop``) hands a loss everything a log-likelihood
needs; the log-likelihood and the KL divergence are plain functions of those
outputs, shared by the inner loss, TRPO's surrogate and its constraint.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from agents.networks import mlp
from envs.layout import ACTION_DIM, OBS_DIM

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianPolicy(nn.Module):
    def __init__(self, hidden_sizes: Sequence[int] = (64, 64), init_log_std: float = 0.0):
        super().__init__()
        self.body = mlp(OBS_DIM, hidden_sizes, ACTION_DIM, activation=nn.Tanh)
        nn.init.normal_(self.body[-1].weight, std=0.01)  # near-zero initial means: every task starts from the same place
        nn.init.zeros_(self.body[-1].bias)
        self.log_std = nn.Parameter(torch.full((ACTION_DIM,), float(init_log_std)))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mean = self.body(obs)
        return mean, self.log_std.expand_as(mean)


def log_likelihood(mean: Tensor, log_std: Tensor, action: Tensor) -> Tensor:
    """log N(action; mean, exp(log_std)^2), summed over the action's last axis."""
    z = (action - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)


def kl_divergence(mean0: Tensor, log_std0: Tensor, mean1: Tensor, log_std1: Tensor) -> Tensor:
    """KL(N0 || N1) of diagonal Gaussians, summed over the last axis."""
    variance0, variance1 = torch.exp(2.0 * log_std0), torch.exp(2.0 * log_std1)
    return (log_std1 - log_std0 + (variance0 + (mean0 - mean1).pow(2)) / (2.0 * variance1) - 0.5).sum(-1)


def sample(mean: Tensor, log_std: Tensor, generator: torch.Generator) -> Tensor:
    """An action drawn from the policy's Gaussian with ``generator`` (unclipped)."""
    return mean + torch.exp(log_std) * torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
