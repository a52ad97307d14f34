"""PEARL's probabilistic context encoder: a Gaussian factor per transition, combined by product.

Rakelly, Zhou, Quillen, Finn & Levine, "Efficient Off-Policy Meta-Reinforcement
Learning via Probabilistic Context Variables" (ICML 2019), Sec. 4.1 and Eq. 2:
q(z | c_1..N) is proportional to the product of N Gaussian factors
Psi(z | c_n) = N(f_mu(c_n), f_sigma^2(c_n)), one per context transition c_n =
(s, a, r), which makes the posterior invariant to the order of the context,
narrower with every transition added, and a closed form:

    sigma^2 = 1 / sum_n (1 / sigma_n^2),    mu = sigma^2 sum_n mu_n / sigma_n^2.

The factor network is an MLP (3 x 200 ReLU in the authors' code) whose
variances go through a softplus clamped at 1e-7, as there. With no context the
posterior is the prior N(0, I). The KL term of the objective (Eq. 3) is the
divergence of the posterior from that prior.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from agents.networks import mlp
from envs.layout import ACTION_DIM, OBS_DIM

#: a context transition: the observation, the action and the reward (scaled by 1/10: rewards lie in [0, 10])
CONTEXT_DIM = OBS_DIM + ACTION_DIM + 1
MIN_VARIANCE = 1e-7


def context_features(obs: Tensor, action: Tensor, reward: Tensor) -> Tensor:
    """[..., CONTEXT_DIM] transitions as the encoder reads them."""
    return torch.cat([obs, action, reward.unsqueeze(-1) / 10.0], dim=-1)


def product_of_gaussians(means: Tensor, variances: Tensor) -> tuple[Tensor, Tensor]:
    """Combine factors [..., N, L] over the context axis N into one Gaussian [..., L]."""
    precision = (1.0 / variances).sum(-2)
    variance = 1.0 / precision
    return variance * (means / variances).sum(-2), variance


def kl_to_prior(mean: Tensor, variance: Tensor) -> Tensor:
    """KL(N(mean, variance) || N(0, I)), summed over the latent axis."""
    return 0.5 * (variance + mean.pow(2) - 1.0 - variance.log()).sum(-1)


class ContextEncoder(nn.Module):
    def __init__(self, latent_size: int = 5, hidden_sizes: Sequence[int] = (200, 200, 200)):
        super().__init__()
        self.latent_size = latent_size
        self.net = mlp(CONTEXT_DIM, hidden_sizes, 2 * latent_size)

    def factors(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Each transition's Gaussian factor: means and variances [..., N, L]."""
        mean, raw_variance = self.net(context).chunk(2, dim=-1)
        return mean, nn.functional.softplus(raw_variance).clamp_min(MIN_VARIANCE)

    def posterior(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | context) for context [..., N, CONTEXT_DIM]: mean and variance [..., L]; the prior when N is 0."""
        if context.shape[-2] == 0:
            shape = (*context.shape[:-2], self.latent_size)
            return context.new_zeros(shape), context.new_ones(shape)
        return product_of_gaussians(*self.factors(context))

    @staticmethod
    def sample(mean: Tensor, variance: Tensor, generator: torch.Generator) -> Tensor:
        """A reparameterized draw z = mean + sqrt(variance) eps, eps from ``generator``."""
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + variance.sqrt() * noise
