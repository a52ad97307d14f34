"""Task-conditioned actor and critic networks for multi-task SAC.

Every network takes observations ``[..., 39]`` and integer task ids ``[...]``
and serves all tasks in one forward over a mixed batch. Two conditionings
(Yu et al., "Meta-World", CoRL 2019, Sec. 5: MT-SAC and MT-MH-SAC):

* ``one_hot``: the task's one-hot code is appended to the observation; one
  output head is shared by all tasks;
* ``multi_head``: the same input, plus one output head per task; a sample
  reads the head of its own task.

The one-hot code and the head choice are written as a comparison and a
masked sum (no ``F.one_hot``, no data-dependent indexing) so that the
networks run unchanged under ``torch.func.vmap``.
"""

from __future__ import annotations

import copy
import math
from typing import Literal, Sequence, get_args

import torch
from torch import nn

Conditioning = Literal["one_hot", "multi_head"]
CONDITIONINGS = get_args(Conditioning)

#: log-std bounds of the actor's Gaussian (as in cleanrl's SAC and SAC v2)
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def task_one_hot(task_ids: torch.Tensor, num_tasks: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot codes ``[..., num_tasks]`` of integer ids ``[...]`` (vmap-safe)."""
    return (task_ids.unsqueeze(-1) == torch.arange(num_tasks, device=task_ids.device)).to(dtype)


def mlp(in_dim: int, hidden_sizes: Sequence[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP; the last layer is linear."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class TaskConditionedMLP(nn.Module):
    """An MLP on ``[obs, one_hot(task)]`` with either one shared output head or
    one head per task (``conditioning``)."""

    def __init__(self, in_dim: int, out_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        if num_tasks < 1 or not hidden_sizes or any(int(w) < 1 for w in hidden_sizes):
            raise ValueError(f"need num_tasks >= 1 and positive hidden sizes, got num_tasks={num_tasks}, hidden_sizes={tuple(hidden_sizes)}")
        self.num_tasks, self.out_dim, self.conditioning = num_tasks, out_dim, conditioning
        heads = num_tasks if conditioning == "multi_head" else 1
        self.net = mlp(in_dim + num_tasks, hidden_sizes, out_dim * heads)

    def forward(self, inputs: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
        code = task_one_hot(task_ids, self.num_tasks, inputs.dtype)
        out = self.net(torch.cat([inputs, code], dim=-1))
        if self.conditioning == "one_hot":
            return out
        heads = out.unflatten(-1, (self.num_tasks, self.out_dim))
        return (heads * code.unsqueeze(-1)).sum(-2)


class TanhGaussianActor(nn.Module):
    """SAC's squashed Gaussian policy (Haarnoja et al., 2018, Appendix C, Eq. 21)."""

    def __init__(self, obs_dim: int, action_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__()
        self.action_dim = action_dim
        self.body = TaskConditionedMLP(obs_dim, 2 * action_dim, num_tasks, hidden_sizes, conditioning)

    def distribution_params(self, obs: torch.Tensor, task_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw_log_std = self.body(obs, task_ids).chunk(2, dim=-1)
        # a smooth squash into [LOG_STD_MIN, LOG_STD_MAX] keeps gradients alive at the bounds
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw_log_std) + 1.0)
        return mean, log_std

    def forward(self, obs: torch.Tensor, task_ids: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized action ``tanh(mean + std * noise)`` and its log-density.

        ``noise`` is standard normal of the action's shape, drawn by the caller
        from its own generator (so sampling is reproducible and vmap-safe)."""
        mean, log_std = self.distribution_params(obs, task_ids)
        pre_tanh = mean + log_std.exp() * noise
        action = torch.tanh(pre_tanh)
        gaussian_log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2.0 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) written stably: 2 (log 2 - u - softplus(-2u))
        squash_correction = (2.0 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2.0 * pre_tanh))).sum(-1)
        return action, gaussian_log_prob - squash_correction

    def deterministic(self, obs: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
        mean, _ = self.distribution_params(obs, task_ids)
        return torch.tanh(mean)


class TwinCritic(nn.Module):
    """Two independent Q networks (clipped double Q, Fujimoto et al., 2018); output ``[..., 2]``."""

    def __init__(self, obs_dim: int, action_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__()
        self.q1 = TaskConditionedMLP(obs_dim + action_dim, 1, num_tasks, hidden_sizes, conditioning)
        self.q2 = TaskConditionedMLP(obs_dim + action_dim, 1, num_tasks, hidden_sizes, conditioning)

    def forward(self, obs: torch.Tensor, action: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([obs, action], dim=-1)
        return torch.cat([self.q1(inputs, task_ids), self.q2(inputs, task_ids)], dim=-1)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy with ``requires_grad=False`` everywhere (target networks)."""
    target = copy.deepcopy(module)
    for parameter in target.parameters():
        parameter.requires_grad_(False)
    return target


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- (1 - tau) target + tau source, in one fused call."""
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)
