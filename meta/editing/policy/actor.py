"""A trained MT-SAC actor as a pure function of its weights, and a policy edit's request.

Editors work on ``ActorPolicy``: the actor's parameter dict (``agents.networks``'
ensemble layout, ``w<i>`` stored ``[1, in, out]``) and its deterministic action
``tanh(mean)``, the action MT-SAC is evaluated with.  An edit asks for actions
in states: ``PolicyEdit(task_id, states [N, 39], actions [N, 4])``, the
demonstrations of the new behaviour; which other states it should cover is
for the editor to infer (the region itself is never shown to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from agents.networks import ensemble_forward
from envs.layout import ACTION_DIM, OBS_DIM

__all__ = ["ActorPolicy", "PolicyEdit", "TaskPolicy", "check_policy_edits", "SQUASH_BOUND"]

#: demonstrated actions are read as at most this far into the squash (atanh 0.95 = 1.83)
SQUASH_BOUND = 0.95


@dataclass(frozen=True)
class PolicyEdit:
    """Demonstrations of the new behaviour of task ``task_id``: ``actions`` [N, 4] in ``states`` [N, 39]."""

    task_id: int
    states: Tensor
    actions: Tensor


class TaskPolicy:
    """What the evaluation reads of a policy, edited or not: ``task_names`` and ``act(obs, task_ids) -> actions``."""

    task_names: tuple[str, ...]

    def act(self, obs: Tensor, task_ids: Tensor) -> Tensor:
        raise NotImplementedError

    def task_id(self, task: str) -> int:
        if task not in self.task_names:
            raise ValueError(f"the policy was trained on {', '.join(self.task_names)}; not on {task!r}")
        return self.task_names.index(task)

    def numpy_policy(self):
        """``(obs, task_ids) -> actions`` in numpy, as the suite's evaluators take it."""
        def policy(obs: np.ndarray, task_ids: np.ndarray) -> np.ndarray:
            out = self.act(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(task_ids, dtype=torch.int64))
            return out.numpy().astype(np.float64)
        return policy


class ActorPolicy(TaskPolicy):
    """MT-SAC's actor (one-hot conditioned) frozen as weights; ``act(obs, task_ids)`` is its deterministic action."""

    def __init__(self, params: Mapping[str, Tensor], task_names: Sequence[str]) -> None:
        self.params = {name: value.detach() for name, value in params.items()}
        self.task_names = tuple(task_names)
        if self.params["e0"].shape[1] != len(self.task_names):
            raise ValueError(f"the actor is conditioned on {self.params['e0'].shape[1]} tasks, got {len(self.task_names)} names")
        if self.params["wo"].shape[-1] != 2 * ACTION_DIM:
            raise ValueError("only one-hot conditioned actors (one output head) can be edited; this one has "
                             f"{self.params['wo'].shape[-1] // (2 * ACTION_DIM)} heads")

    @classmethod
    def from_mtsac(cls, learner) -> ActorPolicy:
        """The actor of a trained ``agents.mtsac.MTSAC`` (e.g. ``launch.experiment.restore(run_dir)[0]``)."""
        return cls({k: v.cpu() for k, v in learner.actor.params().items()}, learner.tasks)

    def with_params(self, params: Mapping[str, Tensor]) -> ActorPolicy:
        return ActorPolicy({**self.params, **params}, self.task_names)

    @staticmethod
    def means(params: Mapping[str, Tensor], obs: Tensor, task_ids: Tensor) -> Tensor:
        """The Gaussian's mean before the tanh squash."""
        return ensemble_forward(params, obs, task_ids, False)[0].chunk(2, dim=-1)[0]

    @classmethod
    def actions(cls, params: Mapping[str, Tensor], obs: Tensor, task_ids: Tensor) -> Tensor:
        return torch.tanh(cls.means(params, obs, task_ids))

    @classmethod
    def demonstration_error(cls, params: Mapping[str, Tensor], obs: Tensor, task_ids: Tensor, actions: Tensor) -> Tensor:
        """Per state [...], the editors' edit loss: the squared error of the pre-squash mean to the demonstrated
        action's pre-image (the squashed Gaussian's NLL at unit variance, up to constants).

        Measured after the tanh instead, its gradient vanishes where the actor saturates, which is where a
        behaviour edit most often asks for the opposite action; demonstrated actions are clamped to
        ``SQUASH_BOUND`` so that their pre-image is finite."""
        target = torch.atanh(actions.clamp(-SQUASH_BOUND, SQUASH_BOUND))
        return (cls.means(params, obs, task_ids) - target).square().sum(-1)

    @torch.no_grad()
    def act(self, obs: Tensor, task_ids: Tensor) -> Tensor:
        return self.actions(self.params, obs, task_ids)


def check_policy_edits(edits: Sequence[PolicyEdit], num_tasks: int) -> list[PolicyEdit]:
    """Refuse an empty list or a malformed edit (a ValueError saying which), before any editor touches weights."""
    edits = list(edits)
    if not edits:
        raise ValueError("no edits given: pass a list of PolicyEdit(task_id, states [N, 39], actions [N, 4])")
    for index, edit in enumerate(edits):
        if not isinstance(edit, PolicyEdit):
            raise ValueError(f"edit {index} must be a PolicyEdit, got {type(edit).__name__}")
        if not 0 <= edit.task_id < num_tasks:
            raise ValueError(f"edit {index}: task id {edit.task_id} is not one of the policy's {num_tasks} tasks")
        states, actions = edit.states, edit.actions
        if states.ndim != 2 or states.shape[1] != OBS_DIM or actions.shape != (len(states), ACTION_DIM) or not len(states):
            raise ValueError(f"edit {index}: need states [N, {OBS_DIM}] and actions [N, {ACTION_DIM}] with N >= 1, got "
                             f"{tuple(states.shape)} and {tuple(actions.shape)}")
        if not (bool(torch.isfinite(states).all()) and bool((actions.abs() <= 1).all())):
            raise ValueError(f"edit {index}: states must be finite and actions within [-1, 1]")
    return edits
