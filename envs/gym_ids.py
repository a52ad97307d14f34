"""Gymnasium ids for the benchmarks: ``polytask/MT10``, ``polytask/ML10``,
``polytask/MT50``, ``polytask/ML45``, ``polytask/MT1`` and ``polytask/ML1``
(these two take ``task=``), ``polytask/MTALL``.

``gymnasium.make(id)`` gives one :class:`MultiTaskEnv`;
``gymnasium.make_vec(id, num_envs=1)`` gives one world per task
(``num_envs >= #tasks`` assigns tasks round robin). Pass ``split="test"`` for
the held-out tasks/variations. The vector env is the batched simulator
(:class:`envs.batched.BatchedVectorEnv`, ``num_threads=`` optional);
``batched=False`` gives the plain :class:`BenchmarkVectorEnv` over single envs.
"""

from __future__ import annotations

import gymnasium as gym

from envs.base import MAX_EPISODE_STEPS
from envs.benchmarks import BENCHMARKS


def _vector_entry(benchmark: str):
    def make_vec(num_envs: int = 1, split: str = "train", task: str | None = None, max_episode_steps=None, batched: bool = True, **env_kwargs):
        # gymnasium passes the registered episode length; polytask episodes are fixed at 500 steps
        if max_episode_steps not in (None, MAX_EPISODE_STEPS):
            raise ValueError(f"polytask episodes last {MAX_EPISODE_STEPS} steps; max_episode_steps={max_episode_steps} is not supported")
        if batched:
            from envs.batched import make_batched_vec

            return make_batched_vec(benchmark, split=split, num_envs=num_envs, task=task, **env_kwargs)
        from envs.vector import make_benchmark_vec

        return make_benchmark_vec(benchmark, split=split, num_envs=num_envs, task=task, **env_kwargs)

    return make_vec


def _single_entry(benchmark: str):
    def make_single(split: str = "train", task: str | None = None, **env_kwargs):
        from envs.benchmarks import get_benchmark
        from envs.vector import MultiTaskEnv

        return MultiTaskEnv(get_benchmark(benchmark, task), split=split, **env_kwargs)

    return make_single


def register_benchmark_ids() -> None:
    for name in BENCHMARKS:
        gym_id = f"polytask/{name}"
        if gym_id in gym.registry:
            continue
        gym.register(
            id=gym_id,
            entry_point=_single_entry(name),
            vector_entry_point=_vector_entry(name),
            max_episode_steps=MAX_EPISODE_STEPS,
        )
