"""The linear feature baseline of Duan, Chen, Houthooft, Schulman & Abbeel,
"Benchmarking Deep Reinforcement Learning for Continuous Control" (ICML 2016,
Sec. 5: "a linear function of the features [o, o², t, t², t³, 1]"), fitted by
ridge regression to the discounted returns of one task's rollouts and used as
that task's value estimate. garage's and metaworld-algorithms' MAML fit one per
task per batch, and their RL² one per trial (a trial is one path there); here
every task or trial of a batch is fitted in one batched solve.

Written here rather than taken from garage (which is TensorFlow-era and would
pull its whole stack in): it is twenty lines of least squares.
"""

from __future__ import annotations

import torch
from torch import Tensor

from meta.rl.ppo import generalized_advantages

#: ridge coefficient, multiplied by 10 until the solve is finite (garage's schedule)
REGULARIZATION = 1e-5


def features(obs: Tensor) -> Tensor:
    """[..., episodes, steps, D] -> [..., episodes, steps, 2 D + 4]: o, o², t, t², t³ and 1 (t = step / 100)."""
    obs = obs.clamp(-10.0, 10.0)
    steps = obs.shape[-2]
    t = (torch.arange(steps, dtype=obs.dtype, device=obs.device) / 100.0).expand(*obs.shape[:-1]).unsqueeze(-1)
    return torch.cat([obs, obs.pow(2), t, t.pow(2), t.pow(3), torch.ones_like(t)], dim=-1)


def fit_predict(obs: Tensor, returns: Tensor) -> Tensor:
    """Fit one baseline per leading index to its episodes and predict on them.

    ``obs`` [K, E, T, D], ``returns`` [K, E, T] -> values [K, E, T], computed in float64.
    """
    x = features(obs.double()).flatten(1, 2)  # [K, E * T, F]
    y = returns.double().flatten(1, 2).unsqueeze(-1)
    gram, moment = x.transpose(1, 2) @ x, x.transpose(1, 2) @ y
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    regularization = REGULARIZATION
    for _ in range(5):
        weights = torch.linalg.solve(gram + regularization * eye, moment)
        if bool(torch.isfinite(weights).all()):
            break
        regularization *= 10.0
    return (x @ weights).squeeze(-1).reshape(returns.shape).to(returns.dtype)


def fitted_values(obs: Tensor, rewards: Tensor, gamma: float) -> Tensor:
    """Each leading index's baseline, fitted to the discounted returns-to-go of its paths and predicted on them.

    ``obs`` [K, E, T, D], ``rewards`` [K, E, T] -> values [K, E, T]; a path ends at its last step without
    bootstrapping (garage's and metaworld-algorithms' treatment of a time limit).
    """
    k, paths, steps = rewards.shape
    flat = rewards.reshape(k * paths, steps)
    ends = torch.zeros_like(flat, dtype=torch.bool)
    ends[:, -1] = True
    zeros = torch.zeros_like(flat)
    returns = generalized_advantages(flat, zeros, ends, zeros[:, 0], gamma, 1.0)  # GAE(lambda = 1) on zero values
    return fit_predict(obs, returns.reshape(k, paths, steps))
