"""Advantages and the clipped PPO objective, for the on-policy meta-RL learners.

Generalized advantage estimation (Schulman et al., 2016, Eq. 16) and the
clipped surrogate of PPO (Schulman et al., 2017, Eq. 7). Written here rather
than taken from stable-baselines3 because RL² needs them over whole trials of a
recurrent policy, with trial ends (not episode ends) as the only terminals,
which SB3's rollout buffers do not offer.
"""

from __future__ import annotations

import torch


def generalized_advantages(rewards: torch.Tensor, values: torch.Tensor, ends: torch.Tensor, last_values: torch.Tensor,
                           gamma: float, lam: float) -> torch.Tensor:
    """GAE(gamma, lambda) of sequences [N, L]: ``ends`` marks the steps after which nothing is bootstrapped
    (the end of a trial); ``last_values`` [N] bootstraps the step after the last one when it is not an end."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    next_values = last_values
    for t in reversed(range(rewards.shape[1])):
        continues = 1.0 - ends[:, t].float()
        delta = rewards[:, t] + gamma * next_values * continues - values[:, t]
        running = delta + gamma * lam * continues * running
        advantages[:, t] = running
        next_values = values[:, t]
    return advantages


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                      clip: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's policy loss (to minimize) and its diagnostics: the fraction of clipped ratios and the
    approximate KL divergence from the collecting policy (Schulman's k3 estimator)."""
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    loss = -torch.min(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages).mean()
    with torch.no_grad():
        diagnostics = {"clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(),
                       "approx_kl": ((ratio - 1.0) - log_ratio).mean()}
    return loss, diagnostics
