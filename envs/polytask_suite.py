"""polytask's own tasks as a suite: training and evaluation on the batched simulator.

Training worlds are one :class:`~envs.batched.BatchedVectorEnv` (bit for bit
the single envs, stepped in batch); evaluation reuses one batched env whose
worlds run every evaluation episode at once, their variations pinned at
reset; ``env.simulation_actors`` above 0 splits the training worlds among
Ray actors (:class:`~envs.ray_vector.RayVectorEnv`). ``env.batched=False`` gives gymnasium's ``SyncVectorEnv`` over single
envs and the single-env evaluator instead (the reference the batched ones
are tested against).
"""

from __future__ import annotations

import functools

from envs.batched import BatchedVectorEnv
from envs.benchmarks import Benchmark, get_benchmark
from envs.evaluation import BatchedEvaluator, evaluate_success
from envs.suite import EnvConfig, Evaluator, Suite, register_suite
from envs.vector import BenchmarkVectorEnv


@register_suite
class PolytaskSuite(Suite):
    name = "polytask"

    def __init__(self, config: EnvConfig, seed: int = 0):
        super().__init__(config, seed)
        self.benchmark = get_benchmark(config.benchmark, config.task)
        self.batched = True if config.batched is None else config.batched
        if not self.batched and config.physics_threads is not None:
            self.reject("physics_threads", config.physics_threads, "it sets the batched simulator's threads; leave it unset with env.batched=False")
        if config.simulation_actors and not self.batched:
            self.reject("simulation_actors", config.simulation_actors, "actors run the batched simulator; leave env.batched unset")
        self.goal_observable = config.goal_shown

    def tasks(self, split: str = "train") -> tuple[str, ...]:
        return self.benchmark.tasks(split)

    def _env_kwargs(self) -> dict:
        kwargs = {"goal_observable": self.goal_observable}
        if self.batched and self.config.physics_threads is not None:
            kwargs["num_threads"] = self.config.physics_threads
        return kwargs

    def make_vec(self, split: str = "train", *, tasks: tuple[str, ...] | None = None, one_hot: bool = False,
                 num_worlds: int | None = None):
        bench = self.benchmark
        if tasks is not None:
            for task in tasks:
                bench.variations(task, split)  # a task of this benchmark's split, or an error naming them
            # the same tasks and variations (they follow from task and split alone), fewer of them
            bench = Benchmark(f"{bench.name}[{','.join(tasks)}]", tuple(tasks), tuple(tasks), bench.variations_per_task)
        num_envs = num_worlds or len(bench.tasks(split)) * self.config.worlds_per_task
        if self.config.simulation_actors:
            from envs.ray_vector import RayVectorEnv  # Ray is optional: imported only when asked for

            kwargs = self._env_kwargs()
            threads = kwargs.pop("num_threads", 1)
            actors = min(self.config.simulation_actors, num_envs)  # no actor without a world
            return RayVectorEnv(bench, split, num_envs, num_actors=actors, threads_per_actor=threads, one_hot=one_hot, **kwargs)
        vector_class = BatchedVectorEnv if self.batched else BenchmarkVectorEnv
        return vector_class(bench, split, num_envs, one_hot=one_hot, **self._env_kwargs())

    def evaluator(self, split: str | None = None) -> Evaluator:
        split = split or self.config.eval_split
        max_steps, default_episodes = self.config.eval_max_steps, self.config.eval_episodes_per_task
        if self.batched:
            run = BatchedEvaluator(self.benchmark, split, max_steps, **self._env_kwargs())
        else:
            run = functools.partial(self._single_env_evaluation, split=split, max_steps=max_steps)

        def evaluate(policy, episodes_per_task: int | None = None):
            return run(policy, episodes_per_task or default_episodes)

        evaluate.close = getattr(run, "close", lambda: None)
        return evaluate

    def _single_env_evaluation(self, policy, episodes_per_task: int, *, split: str, max_steps: int):
        return evaluate_success(policy, self.benchmark, split, episodes_per_task, max_steps, **self._env_kwargs())
