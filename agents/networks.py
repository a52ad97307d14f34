"""Task-conditioned actor and critic networks for multi-task SAC, written as pure functions.

Every network takes observations ``[..., 39]`` and integer task ids ``[...]``
and serves all tasks in one forward over a mixed batch. Two conditionings
(Yu et al., "Meta-World", CoRL 2019, Sec. 5: MT-SAC and MT-MH-SAC):

* ``one_hot``: the task's one-hot code is appended to the observation; one
  output head is shared by all tasks;
* ``multi_head``: the same input, plus one output head per task; a sample
  reads the head of its own task.

The math lives in pure functions of a parameter dict (:func:`ensemble_forward`,
:func:`actor_forward`, :func:`critic_forward`), so a whole SAC update can be
written with ``torch.func`` and compiled as one graph (``agents.sac_update``);
the modules only hold the parameters. Two habits keep that graph small:

* an *ensemble* of ``E`` members is one network whose weights carry a leading
  member axis, so the twin critic's two Q networks run as one batched matmul
  per layer instead of two;
* the one-hot code never becomes a tensor: its columns of the first layer's
  weight are a per-task embedding (``e0``), added by index, which is the same
  product without ``T`` zero columns per sample.

:func:`mlp` is the plain-module MLP of the learners that train with autograd
on modules (meta-RL policies and encoders, dynamics models).
"""

from __future__ import annotations

import copy
import math
from typing import Literal, Mapping, Sequence, get_args

import torch
from torch import Tensor, nn

Conditioning = Literal["one_hot", "multi_head"]
CONDITIONINGS = get_args(Conditioning)

#: log-std bounds of the actor's Gaussian (as in cleanrl's SAC and SAC v2)
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def ensemble_forward(params: Mapping[str, Tensor], inputs: Tensor, task_ids: Tensor, multi_head: bool) -> Tensor:
    """``[E, ..., out]`` outputs of an ensemble MLP (ReLU hidden layers, linear output) on ``inputs [..., in]``.

    ``params``: ``w0 [E, in, h]``, ``e0 [E, T, h]`` (the one-hot columns of the
    first layer), ``b0 [E, h]``, then ``w<i>``/``b<i>`` per hidden layer and
    ``wo [E, h, heads * out]``, ``bo``; ``heads`` is T for ``multi_head``.
    """
    lead = inputs.shape[:-1]
    x, ids = inputs.reshape(-1, inputs.shape[-1]), task_ids.reshape(-1)
    h = torch.relu(torch.matmul(x, params["w0"]) + params["e0"][:, ids] + params["b0"].unsqueeze(1))
    layer = 1
    while f"w{layer}" in params:
        h = torch.relu(torch.baddbmm(params[f"b{layer}"].unsqueeze(1), h, params[f"w{layer}"]))
        layer += 1
    out = torch.baddbmm(params["bo"].unsqueeze(1), h, params["wo"])
    if multi_head:
        num_tasks = params["e0"].shape[1]
        heads = out.unflatten(-1, (num_tasks, -1))
        out = torch.take_along_dim(heads, ids.view(1, -1, 1, 1), dim=2).squeeze(2)
    return out.reshape(out.shape[0], *lead, out.shape[-1])


def init_ensemble(members: int, in_dim: int, out_dim: int, num_tasks: int, hidden_sizes: Sequence[int],
                  conditioning: Conditioning) -> dict[str, Tensor]:
    """Parameters drawn as ``nn.Linear`` draws them: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
    the first layer's fan-in counting the one-hot inputs (from torch's global generator)."""
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
    if num_tasks < 1 or not hidden_sizes or any(int(w) < 1 for w in hidden_sizes):
        raise ValueError(f"need num_tasks >= 1 and positive hidden sizes, got num_tasks={num_tasks}, hidden_sizes={tuple(hidden_sizes)}")

    def uniform(fan_in: int, *shape: int) -> Tensor:
        bound = 1.0 / math.sqrt(fan_in)
        return torch.empty(members, *shape).uniform_(-bound, bound)

    widths = [int(w) for w in hidden_sizes]
    heads = num_tasks if conditioning == "multi_head" else 1
    params = {"w0": uniform(in_dim + num_tasks, in_dim, widths[0]), "e0": uniform(in_dim + num_tasks, num_tasks, widths[0]),
              "b0": uniform(in_dim + num_tasks, widths[0])}
    for layer in range(1, len(widths)):
        params[f"w{layer}"] = uniform(widths[layer - 1], widths[layer - 1], widths[layer])
        params[f"b{layer}"] = uniform(widths[layer - 1], widths[layer])
    params["wo"] = uniform(widths[-1], widths[-1], out_dim * heads)
    params["bo"] = uniform(widths[-1], out_dim * heads)
    return params


def squashed_gaussian(mean: Tensor, raw_log_std: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    """SAC's squashed Gaussian (Haarnoja et al., 2018, Appendix C, Eq. 21): the reparameterized
    action ``tanh(mean + std * noise)`` and its log-density."""
    # a smooth squash into [LOG_STD_MIN, LOG_STD_MAX] keeps gradients alive at the bounds
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw_log_std) + 1.0)
    pre_tanh = mean + log_std.exp() * noise
    gaussian_log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2.0 * math.pi)).sum(-1)
    # log(1 - tanh(u)^2) written stably: 2 (log 2 - u - softplus(-2u))
    squash_correction = (2.0 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2.0 * pre_tanh))).sum(-1)
    return torch.tanh(pre_tanh), gaussian_log_prob - squash_correction


def actor_forward(params: Mapping[str, Tensor], obs: Tensor, task_ids: Tensor, noise: Tensor, multi_head: bool) -> tuple[Tensor, Tensor]:
    """Sampled action ``[..., A]`` and its log-density ``[...]``; ``noise`` is standard normal,
    drawn by the caller from its own generator (reproducible and vmap-safe)."""
    mean, raw_log_std = ensemble_forward(params, obs, task_ids, multi_head)[0].chunk(2, dim=-1)
    return squashed_gaussian(mean, raw_log_std, noise)


def critic_forward(params: Mapping[str, Tensor], obs: Tensor, action: Tensor, task_ids: Tensor, multi_head: bool) -> Tensor:
    """Both Q values ``[..., 2]`` (clipped double Q, Fujimoto et al., 2018)."""
    q = ensemble_forward(params, torch.cat([obs, action], dim=-1), task_ids, multi_head)  # [2, ..., 1]
    return q.squeeze(-1).movedim(0, -1)


class _Ensemble(nn.Module):
    """Holds an ensemble's parameters as attributes ``w0``, ``e0``, ...: ``params()`` hands them to the
    pure forwards, and ``torch.func.functional_call`` can swap them like any module's."""

    def __init__(self, members: int, in_dim: int, out_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__()
        self.num_tasks, self.conditioning = num_tasks, conditioning
        self.multi_head = conditioning == "multi_head"
        self._names = []
        for name, value in init_ensemble(members, in_dim, out_dim, num_tasks, hidden_sizes, conditioning).items():
            self.register_parameter(name, nn.Parameter(value))
            self._names.append(name)

    def params(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in self._names}


class TanhGaussianActor(_Ensemble):
    """SAC's task-conditioned squashed Gaussian policy."""

    def __init__(self, obs_dim: int, action_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__(1, obs_dim, 2 * action_dim, num_tasks, hidden_sizes, conditioning)
        self.action_dim = action_dim

    def forward(self, obs: Tensor, task_ids: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        return actor_forward(self.params(), obs, task_ids, noise, self.multi_head)

    def deterministic(self, obs: Tensor, task_ids: Tensor) -> Tensor:
        mean, _ = ensemble_forward(self.params(), obs, task_ids, self.multi_head)[0].chunk(2, dim=-1)
        return torch.tanh(mean)


class TwinCritic(_Ensemble):
    """Two Q networks as one batched ensemble; output ``[..., 2]``."""

    def __init__(self, obs_dim: int, action_dim: int, num_tasks: int, hidden_sizes: Sequence[int], conditioning: Conditioning):
        super().__init__(2, obs_dim + action_dim, 1, num_tasks, hidden_sizes, conditioning)

    def forward(self, obs: Tensor, action: Tensor, task_ids: Tensor) -> Tensor:
        return critic_forward(self.params(), obs, action, task_ids, self.multi_head)


def mlp(in_dim: int, hidden_sizes: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A plain module MLP (``activation`` after each hidden layer, a linear output), for the learners whose
    networks are ordinary modules (meta-RL policies, encoders, dynamics models) rather than the ensembles above."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(in_dim, width), activation()]
        in_dim = width
    return nn.Sequential(*layers, nn.Linear(in_dim, out_dim))


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy with ``requires_grad=False`` everywhere (target networks)."""
    target = copy.deepcopy(module)
    for parameter in target.parameters():
        parameter.requires_grad_(False)
    return target
