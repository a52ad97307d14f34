"""A task-balanced replay buffer held as tensors on the training device.

Each task has its own ring buffer (one slab ``[num_tasks, capacity_per_task,
...]`` per field), so that every sample draws exactly ``per_task_batch``
transitions of every task: no task is starved by tasks with more data, and
the batch splits into per-task losses without a gather. ``terminated`` and
``truncated`` are stored apart: a learner bootstraps through a time-limit
truncation but not through a true termination (SB3 issue #633).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class TransitionBatch(NamedTuple):
    """Transitions with leading axes ``(task, sample)``; ``task_id[t, :] == t``."""

    obs: torch.Tensor  #: [T, B, obs_dim]
    action: torch.Tensor  #: [T, B, action_dim]
    reward: torch.Tensor  #: [T, B]
    next_obs: torch.Tensor  #: [T, B, obs_dim]
    terminated: torch.Tensor  #: [T, B] float 0/1: the episode ended in a terminal state
    truncated: torch.Tensor  #: [T, B] float 0/1: the episode was cut by the time limit
    task_id: torch.Tensor  #: [T, B] int64


_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class TaskBalancedReplayBuffer:
    """Per-task FIFO storage of transitions; samples the same count from every task."""

    def __init__(self, num_tasks: int, capacity_per_task: int, obs_dim: int, action_dim: int, device: torch.device):
        if num_tasks < 1 or capacity_per_task < 1:
            raise ValueError(f"need num_tasks >= 1 and capacity_per_task >= 1, got {num_tasks} and {capacity_per_task}")
        self.num_tasks, self.capacity_per_task = num_tasks, capacity_per_task
        self.obs_dim, self.action_dim, self.device = obs_dim, action_dim, torch.device(device)
        shape = (num_tasks, capacity_per_task)
        make = lambda *tail: torch.zeros(*shape, *tail, dtype=torch.float32, device=self.device)  # noqa: E731
        self.storage = {
            "obs": make(obs_dim),
            "action": make(action_dim),
            "reward": make(),
            "next_obs": make(obs_dim),
            "terminated": make(),
            "truncated": make(),
        }
        # Write positions and fill levels live on the host (no device sync to
        # read them); the device copy of the sizes feeds sampling.
        self.position = np.zeros(num_tasks, dtype=np.int64)
        self.size = np.zeros(num_tasks, dtype=np.int64)
        self._size_on_device = torch.zeros(num_tasks, dtype=torch.float32, device=self.device)

    def __len__(self) -> int:
        return int(self.size.sum())

    def add(self, obs, action, reward, next_obs, terminated, truncated, task_id) -> None:
        """Store a batch of transitions ``[N, ...]`` (numpy or tensors) from any tasks."""
        task_id = np.asarray(task_id, dtype=np.int64).reshape(-1)
        n = len(task_id)
        if n == 0:
            return
        if task_id.min() < 0 or task_id.max() >= self.num_tasks:
            raise ValueError(f"task ids must lie in [0, {self.num_tasks}), got {task_id.tolist()}")
        values = dict(obs=obs, action=action, reward=reward, next_obs=next_obs, terminated=terminated, truncated=truncated)
        expected = {"obs": (n, self.obs_dim), "action": (n, self.action_dim), "next_obs": (n, self.obs_dim)}
        tensors = {}
        for name, value in values.items():
            tensor = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value, dtype=torch.float32)
            want = expected.get(name, (n,))
            if tuple(tensor.shape) != want:
                raise ValueError(f"{name} must have shape {want} (one row per task id), got {tuple(tensor.shape)}")
            tensors[name] = tensor.to(self.device)
        # Slots: the k-th transition of task t in this call goes k places after its write position.
        counts = np.bincount(task_id, minlength=self.num_tasks)
        order = np.argsort(task_id, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - (np.cumsum(counts) - counts)[task_id[order]]
        # A call with more than a task's capacity keeps its newest (slots must not repeat).
        keep = rank >= counts[task_id] - self.capacity_per_task
        slots = (self.position[task_id] + rank) % self.capacity_per_task
        keep_device = torch.as_tensor(keep, device=self.device)
        index = (torch.as_tensor(task_id[keep], device=self.device), torch.as_tensor(slots[keep], device=self.device))
        for name, tensor in tensors.items():
            self.storage[name].index_put_(index, tensor[keep_device])
        self.position = (self.position + counts) % self.capacity_per_task
        self.size = np.minimum(self.size + counts, self.capacity_per_task)
        self._size_on_device.copy_(torch.as_tensor(self.size, dtype=torch.float32))

    def sample(self, per_task_batch: int, generator: torch.Generator, tasks: np.ndarray | None = None) -> TransitionBatch:
        """``per_task_batch`` uniformly drawn transitions of every task, or of each of ``tasks`` in that order (with
        replacement; ``task_id`` then holds the drawn tasks' ids)."""
        if per_task_batch < 1:
            raise ValueError(f"per_task_batch must be >= 1, got {per_task_batch}")
        chosen = np.arange(self.num_tasks) if tasks is None else np.asarray(tasks, dtype=np.int64).reshape(-1)
        if (self.size[chosen] == 0).any():
            empty = sorted({int(t) for t in chosen if self.size[t] == 0})
            raise RuntimeError(f"cannot sample a task-balanced batch: tasks {empty} have no transitions yet")
        uniform = torch.rand(len(chosen), per_task_batch, generator=generator, device=self.device)
        rows = torch.as_tensor(chosen, device=self.device).unsqueeze(1).expand_as(uniform)
        slots = (uniform * self._size_on_device[rows]).long().clamp_max_(self.capacity_per_task - 1)
        picked = {name: self.storage[name][rows, slots] for name in _FIELDS}
        return TransitionBatch(**picked, task_id=rows)

    def clear(self, tasks) -> None:
        """Forget every transition of ``tasks`` (PEARL's context buffer keeps only a task's newest prior-policy data)."""
        tasks = np.asarray(tasks, dtype=np.int64).reshape(-1)
        self.position[tasks], self.size[tasks] = 0, 0
        self._size_on_device.copy_(torch.as_tensor(self.size, dtype=torch.float32))

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        """The filled part of the storage (on CPU) and the write positions."""
        filled = int(self.size.max())
        return {
            "storage": {name: value[:, :filled].cpu().clone() for name, value in self.storage.items()},
            "position": self.position.copy(),
            "size": self.size.copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        size = np.asarray(state["size"], dtype=np.int64)
        if size.shape != (self.num_tasks,) or size.max() > self.capacity_per_task:
            raise ValueError(f"buffer snapshot holds {size.shape[0]} tasks with up to {size.max()} transitions; this buffer has {self.num_tasks} tasks of capacity {self.capacity_per_task}")
        for name, value in state["storage"].items():
            self.storage[name][:, : value.shape[1]] = value.to(self.device)
        self.position = np.asarray(state["position"], dtype=np.int64).copy()
        self.size = size.copy()
        self._size_on_device.copy_(torch.as_tensor(self.size, dtype=torch.float32))
