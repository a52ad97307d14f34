"""PEARL's soft actor-critic, conditioned on the latent context variable, and its update.

Rakelly et al. (ICML 2019), Sec. 4.2 and Algorithm 1: SAC (Haarnoja et al.,
2018, the version with a state-value network: Q, V and a target V; the
reward scale sets the entropy trade-off) whose networks read
the observation with a latent z drawn from the posterior of a task's context.
The critic's Bellman error trains the context encoder (Eq. 3: "we train the
inference network using gradients from the Bellman update for the critic"),
together with the KL term; the actor and V read z with its gradient stopped,
as in the authors' code. Twin Q networks, minimum taken, as there.

One addition, off by default in the paper's settings: a learned temperature
(``learn_temperature``, SAC's automatic entropy tuning, Haarnoja et al.,
"Soft Actor-Critic Algorithms and Applications", 2018, Eq. 18, target entropy
-|A|). With the temperature fixed at 1 and this suite's rewards (0 to 10 a
step, slowly varying near the goal), the entropy term dominated at reward
scales 1 and 5: on ML1-reach the policy stayed at maximum entropy (uniform
actions) for 60k env steps.

The squashed Gaussian is MT-SAC's (``agents.networks.squashed_gaussian``).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
from torch import Tensor, nn

from agents.buffer import TransitionBatch
from agents.networks import frozen_copy, mlp, squashed_gaussian
from envs.layout import ACTION_DIM, OBS_DIM
from meta.rl.context_encoder import ContextEncoder, kl_to_prior


@dataclasses.dataclass(frozen=True)
class SACSettings:
    gamma: float
    tau: float
    reward_scale: float
    kl_weight: float
    policy_regularization: float = 1e-3
    """Weight of the authors' penalty on the policy's pre-squash means and log-stds."""
    target_entropy: float | None = None
    """With a learned temperature: the entropy it steers the policy to; None: the temperature stays 1."""


class LatentSAC(nn.Module):
    """Policy, twin Q, V and target V over (observation, z)."""

    def __init__(self, latent_size: int, hidden_sizes: Sequence[int]):
        super().__init__()
        width = OBS_DIM + latent_size
        self.policy = mlp(width, hidden_sizes, 2 * ACTION_DIM)
        self.q1, self.q2 = mlp(width + ACTION_DIM, hidden_sizes, 1), mlp(width + ACTION_DIM, hidden_sizes, 1)
        self.value = mlp(width, hidden_sizes, 1)
        self.target_value = frozen_copy(self.value)
        #: log of the entropy temperature (stays 0 unless the update learns it)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def act(self, obs: Tensor, z: Tensor, noise: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(action, its log-density, the policy's raw outputs); ``noise`` None: the deterministic tanh(mean)."""
        raw = self.policy(torch.cat([obs, z], dim=-1))
        mean, raw_log_std = raw.chunk(2, dim=-1)
        if noise is None:
            return torch.tanh(mean), torch.zeros(mean.shape[:-1], device=mean.device), raw
        action, log_prob = squashed_gaussian(mean, raw_log_std, noise)
        return action, log_prob, raw

    def q_values(self, obs: Tensor, action: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        inputs = torch.cat([obs, action, z], dim=-1)
        return self.q1(inputs).squeeze(-1), self.q2(inputs).squeeze(-1)


def expand_latent(z: Tensor, batch: int) -> Tensor:
    """[K, L] -> [K, batch, L]: every transition of task k reads its task's z."""
    return z.unsqueeze(1).expand(z.shape[0], batch, z.shape[1])


def pearl_update(encoder: ContextEncoder, sac: LatentSAC, optimizers: dict[str, torch.optim.Optimizer], context: Tensor,
                 batch: TransitionBatch, settings: SACSettings, generator: torch.Generator) -> dict[str, Tensor]:
    """One gradient step of every network on a meta-batch: ``context`` [K, C, CONTEXT_DIM] and ``batch`` [K, B, ...]
    of the same K tasks. Returns the losses as 0-d tensors."""
    mean, variance = encoder.posterior(context)
    z = encoder.sample(mean, variance, generator)
    z_batch = expand_latent(z, batch.obs.shape[1])
    z_stopped = z_batch.detach()
    noise = torch.randn(batch.action.shape, generator=generator, device=batch.action.device)

    # critic and encoder: the Bellman error through z, plus the KL of each task's posterior
    q1, q2 = sac.q_values(batch.obs, batch.action, z_batch)
    with torch.no_grad():
        target = settings.reward_scale * batch.reward + (1.0 - batch.terminated) * settings.gamma * \
            sac.target_value(torch.cat([batch.next_obs, z_stopped], dim=-1)).squeeze(-1)
    q_loss = (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()
    kl_loss = settings.kl_weight * kl_to_prior(mean, variance).sum()
    _step(q_loss + kl_loss, optimizers["encoder"], optimizers["q"])

    # V towards the soft value of the current policy; the policy towards the (updated) Q
    action, log_prob, raw = sac.act(batch.obs, z_stopped, noise)
    new_q = torch.min(*sac.q_values(batch.obs, action, z_stopped))
    temperature = sac.log_temperature.detach().exp()
    value = sac.value(torch.cat([batch.obs, z_stopped], dim=-1)).squeeze(-1)
    value_loss = (value - (new_q - temperature * log_prob).detach()).pow(2).mean()
    _step(value_loss, optimizers["value"])

    policy_loss = (temperature * log_prob - new_q).mean() + settings.policy_regularization * raw.pow(2).mean()
    _step(policy_loss, optimizers["policy"])
    if settings.target_entropy is not None:
        _step(-(sac.log_temperature * (log_prob.detach() + settings.target_entropy)).mean(), optimizers["temperature"])
    with torch.no_grad():
        torch._foreach_lerp_(list(sac.target_value.parameters()), list(sac.value.parameters()), settings.tau)
    return {"losses/q": q_loss.detach(), "losses/kl": kl_loss.detach(), "losses/value": value_loss.detach(),
            "losses/policy": policy_loss.detach(), "charts/posterior_variance": variance.detach().mean(),
            "charts/entropy": -log_prob.detach().mean(), "charts/temperature": temperature}


def _step(loss: Tensor, *optimizers: torch.optim.Optimizer) -> None:
    """Step ``optimizers`` along the gradient of ``loss`` with respect to their own parameters only: the other
    networks ``loss`` passes through (the critic under the policy loss) get no gradient computed or kept."""
    params = [p for optimizer in optimizers for group in optimizer.param_groups for p in group["params"]]
    for param, gradient in zip(params, torch.autograd.grad(loss, params)):
        param.grad = gradient
    for optimizer in optimizers:
        optimizer.step()


def make_optimizers(encoder: ContextEncoder, sac: LatentSAC, lr: float) -> dict[str, torch.optim.Optimizer]:
    q_params = list(sac.q1.parameters()) + list(sac.q2.parameters())
    return {"encoder": torch.optim.Adam(encoder.parameters(), lr=lr), "q": torch.optim.Adam(q_params, lr=lr),
            "value": torch.optim.Adam(sac.value.parameters(), lr=lr), "policy": torch.optim.Adam(sac.policy.parameters(), lr=lr),
            "temperature": torch.optim.Adam([sac.log_temperature], lr=lr)}
