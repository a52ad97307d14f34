"""Success-rate evaluation of any policy over a benchmark's tasks and variations.

Meta-World's protocol: an episode succeeds if ``info["success"]`` was 1 at any
step; a task's success rate is the mean over its evaluation episodes, and
episode ``k`` of a task runs the ``k``-th of its variations of the split.

:class:`BatchedEvaluator` runs every episode of every task as one world of
the batched simulator, built once and reused: each evaluation only resets
the worlds with their variations pinned. :func:`evaluate_success` steps
single envs one by one; it is the reference the batched one is tested
against (same table for the same policy and variations).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from envs.base import MAX_EPISODE_STEPS
from envs.benchmarks import Benchmark
from envs.registry import get_task
from envs.report import EvalReport

#: a policy maps (observations [B, 39], task ids [B]) to actions [B, 4]
BatchPolicy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check(episodes_per_task: int, max_steps: int) -> None:
    if episodes_per_task < 1 or not 1 <= max_steps <= MAX_EPISODE_STEPS:
        raise ValueError(f"need episodes_per_task >= 1 and 1 <= max_steps <= {MAX_EPISODE_STEPS}, got {episodes_per_task} and {max_steps}")


def _title(benchmark: Benchmark, split: str, episodes_per_task: int) -> str:
    return f"{benchmark.name} ({split}, {episodes_per_task} episodes per task)"


def _report(title: str, tasks, task_ids: np.ndarray, success: np.ndarray, returns: np.ndarray) -> EvalReport:
    report = EvalReport(title=title)
    for task_id, task in enumerate(tasks):
        mask = task_ids == task_id
        report.add(task, success_rate=success[mask].mean(), episode_return=returns[mask].mean())
    return report


def evaluate_success(
    policy: BatchPolicy,
    benchmark: Benchmark,
    split: str = "test",
    episodes_per_task: int = 10,
    max_steps: int = MAX_EPISODE_STEPS,
    title: str | None = None,
    **env_kwargs: Any,
) -> EvalReport:
    """Run ``episodes_per_task`` episodes per task in single envs, all tasks'
    episodes stepped together as one batch of observations."""
    _check(episodes_per_task, max_steps)
    tasks = benchmark.tasks(split)
    worlds, task_ids, variations = [], [], []
    for task_id, task in enumerate(tasks):
        seeds = benchmark.variations(task, split)
        for k in range(episodes_per_task):
            worlds.append(get_task(task)(**env_kwargs))
            task_ids.append(task_id)
            variations.append(seeds[k % len(seeds)])
    task_ids = np.array(task_ids)
    obs = np.stack([env.reset(options={"variation_seed": v})[0] for env, v in zip(worlds, variations)])
    success = np.zeros(len(worlds), dtype=bool)
    returns = np.zeros(len(worlds))
    for _ in range(max_steps):
        actions = np.asarray(policy(obs, task_ids), dtype=np.float64)
        for i, env in enumerate(worlds):
            obs[i], reward, _, _, info = env.step(actions[i])
            returns[i] += reward
            success[i] |= bool(info["success"])
    for env in worlds:
        env.close()
    return _report(title or _title(benchmark, split, episodes_per_task), tasks, task_ids, success, returns)


class BatchedEvaluator:
    """``evaluate(policy, episodes_per_task) -> EvalReport`` on the batched simulator.

    The worlds (one per episode of every task) are built on first use and
    kept; a call with another ``episodes_per_task`` builds them anew.
    ``env_kwargs`` go to every world (``goal_observable``, ``num_threads``, ...).
    """

    def __init__(self, benchmark: Benchmark, split: str = "test", max_steps: int = MAX_EPISODE_STEPS, **env_kwargs: Any):
        _check(1, max_steps)
        self.benchmark, self.split, self.max_steps = benchmark, split, max_steps
        self.tasks = benchmark.tasks(split)
        self.env_kwargs = env_kwargs
        self._vec = None
        self._episodes = 0

    def _worlds(self, episodes_per_task: int):
        from envs.batched import BatchedVectorEnv  # imported here: envs.batched imports this package's vector envs

        if self._vec is None or self._episodes != episodes_per_task:
            self.close()
            # world i runs task i % T (round robin), so its episode index is i // T
            self._vec = BatchedVectorEnv(self.benchmark, self.split, len(self.tasks) * episodes_per_task, **self.env_kwargs)
            self._episodes = episodes_per_task
        return self._vec

    def __call__(self, policy: BatchPolicy, episodes_per_task: int = 10) -> EvalReport:
        _check(episodes_per_task, self.max_steps)
        vec = self._worlds(episodes_per_task)
        count = self.benchmark.variations_per_task
        episode = np.arange(vec.num_envs) // len(self.tasks)
        obs, info = vec.reset(seed=0, options={"task": [None] * vec.num_envs, "variation": list(episode % count)})
        task_ids = np.asarray(info["task_id"])
        success = np.zeros(vec.num_envs, dtype=bool)
        returns = np.zeros(vec.num_envs)
        for _ in range(self.max_steps):
            obs, reward, _, _, info = vec.step(np.asarray(policy(obs, task_ids), dtype=np.float64))
            returns += reward
            success |= info["success"] > 0.5
        return _report(_title(self.benchmark, self.split, episodes_per_task), self.tasks, task_ids, success, returns)

    def close(self) -> None:
        if self._vec is not None:
            self._vec.close()
            self._vec = None
