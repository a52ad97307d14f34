"""Success-rate evaluation of any policy over a benchmark's tasks and variations.

Meta-World's protocol: an episode succeeds if ``info["success"]`` was 1 at any
step; a task's success rate is the mean over its evaluation episodes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from envs.base import MAX_EPISODE_STEPS
from envs.benchmarks import Benchmark
from envs.registry import get_task
from envs.report import EvalReport

#: a policy maps (observations [B, 39], task ids [B]) to actions [B, 4]
BatchPolicy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def evaluate_success(
    policy: BatchPolicy,
    benchmark: Benchmark,
    split: str = "test",
    episodes_per_task: int = 10,
    max_steps: int = MAX_EPISODE_STEPS,
    title: str | None = None,
) -> EvalReport:
    """Run ``episodes_per_task`` episodes per task (over its first variations of
    ``split``), all tasks' episodes stepped together as one batch."""
    tasks = benchmark.tasks(split)
    worlds, task_ids, variations = [], [], []
    for task_id, task in enumerate(tasks):
        seeds = benchmark.variations(task, split)
        for k in range(episodes_per_task):
            worlds.append(get_task(task)())
            task_ids.append(task_id)
            variations.append(seeds[k % len(seeds)])
    task_ids = np.array(task_ids)
    obs = np.stack([env.reset(options={"variation": v})[0] for env, v in zip(worlds, variations)])
    success = np.zeros(len(worlds), dtype=bool)
    returns = np.zeros(len(worlds))
    for _ in range(max_steps):
        actions = np.asarray(policy(obs, task_ids), dtype=np.float64)
        for i, env in enumerate(worlds):
            obs[i], reward, _, _, info = env.step(actions[i])
            returns[i] += reward
            success[i] |= bool(info["success"])
    report = EvalReport(title=title or f"{benchmark.name} ({split}, {episodes_per_task} episodes per task)")
    for task_id, task in enumerate(tasks):
        mask = task_ids == task_id
        report.add(task, success_rate=success[mask].mean(), episode_return=returns[mask].mean())
    for env in worlds:
        env.close()
    return report
