"""Meta-World's ML benchmarks with each world's task and variation chosen at reset.

Meta-World's own ML vector envs (``gymnasium.make_vec("Meta-World/ML10-train")``)
give every world a fixed task and switch its goal only when told to sample
anew; meta-learners need what polytask's vector envs offer instead: any number
of worlds, and per world and per reset a chosen task and variation (an RL²
trial keeps one for several episodes; the adapt-then-evaluate protocol pins
every test variation). :class:`MetaWorldTrialsVectorEnv` offers that over
Meta-World's envs and goal lists: the benchmark object
(``metaworld.ML10(seed=...)``) lists 50 goals ("tasks" in Meta-World's words)
per env and split, drawn from the seed, and variation ``k`` of a task is its
``k``-th goal, set with the env's ``set_task`` (which also hides the goal, as
Meta-World's ML benchmarks do).

It follows gymnasium's ``NEXT_STEP`` autoreset and takes ``reset_mask`` like
polytask's vector envs. Worlds are stepped one by one in Python, as in
Meta-World's ``SyncVectorEnv``. Its snapshots hold each world's task and
variation; Meta-World's resets are deterministic given both, but its physics
are not snapshotted: restored worlds start new episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.vector import pop_reset_mask, split_world_options


def _benchmark_object(benchmark: str, task: str | None, seed: int):
    import metaworld

    if benchmark == "ML1":
        return metaworld.ML1(task, seed=seed)
    return {"ML10": metaworld.ML10, "ML45": metaworld.ML45}[benchmark](seed=seed)


class MetaWorldTrialsVectorEnv(gym.vector.VectorEnv):
    """``num_worlds`` Meta-World envs over ``tasks`` (Meta-World names) of an ML benchmark's ``split``."""

    restores_episodes = False

    def __init__(self, benchmark: str, split: str, tasks: tuple[str, ...], num_worlds: int, seed: int, task: str | None = None):
        if num_worlds < len(tasks):
            raise ValueError(f"Meta-World {benchmark}/{split} has {len(tasks)} tasks: num_worlds must be >= {len(tasks)}, got {num_worlds}")
        bench = _benchmark_object(benchmark, task, seed)
        classes = bench.train_classes if split == "train" else bench.test_classes
        goals = bench.train_tasks if split == "train" else bench.test_tasks
        self.task_names, self._classes = tuple(tasks), classes
        self.goals = {name: [goal for goal in goals if goal.env_name == name] for name in self.task_names}
        self.worlds = [classes[self.task_names[i % len(tasks)]]() for i in range(num_worlds)]
        self.world_task = [i % len(tasks) for i in range(num_worlds)]
        self.world_variation = [i // len(tasks) % self.variations_per_task(self.task_names[i % len(tasks)]) for i in range(num_worlds)]
        self.num_envs = num_worlds
        self.single_observation_space = self.worlds[0].observation_space
        self.single_action_space = self.worlds[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_worlds)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_worlds)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}
        self._needs_reset = np.ones(num_worlds, dtype=bool)
        self._started = False
        self._obs = np.zeros((num_worlds, *self.single_observation_space.shape))

    def variations_per_task(self, name: str) -> int:
        return len(self.goals[name])

    def _info(self, success: np.ndarray | None = None) -> dict[str, Any]:
        info = {"task_id": np.array(self.world_task), "_task_id": np.ones(self.num_envs, dtype=bool)}
        if success is not None:
            info["success"], info["_success"] = success, np.ones(self.num_envs, dtype=bool)
        return info

    def reset(self, *, seed=None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        # not ``_needs_reset.all()``: every world may need a reset after a step that ended them all
        mask = pop_reset_mask(options, self.num_envs, first_reset=not self._started)
        self._started = True
        for i, world_options in enumerate(split_world_options(options, self.num_envs)):
            if not mask[i]:
                continue
            if "task" in world_options:
                if world_options["task"] not in self.task_names:
                    raise ValueError(f"task {world_options['task']!r} is not one of {', '.join(self.task_names)}")
                self.world_task[i] = self.task_names.index(world_options["task"])
            name = self.task_names[self.world_task[i]]
            if world_options.get("variation") is not None:
                variation = int(world_options["variation"])
                if not 0 <= variation < self.variations_per_task(name):
                    raise ValueError(f"variation must lie in [0, {self.variations_per_task(name)}) for {name}, got {variation}")
                self.world_variation[i] = variation
            if not isinstance(self.worlds[i], self._classes[name]):  # a world switching task gets that task's env
                self.worlds[i].close()
                self.worlds[i] = self._classes[name]()
            self.worlds[i].set_task(self.goals[name][self.world_variation[i]])
            self._obs[i], _ = self.worlds[i].reset()
            self._needs_reset[i] = False
        return self._obs.copy(), self._info()

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        rewards, terminated, truncated = np.zeros(self.num_envs), np.zeros(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool)
        success = np.zeros(self.num_envs)
        for i, world in enumerate(self.worlds):
            if self._needs_reset[i]:  # NEXT_STEP autoreset: this step starts the world's next episode
                self._obs[i], _ = world.reset()
                self._needs_reset[i] = False
                continue
            self._obs[i], rewards[i], terminated[i], truncated[i], info = world.step(actions[i])
            success[i] = float(info["success"])
        self._needs_reset |= terminated | truncated
        return self._obs.copy(), rewards, terminated, truncated, self._info(success)

    def get_state(self) -> dict[str, Any]:
        return {"world_task": list(self.world_task), "world_variation": list(self.world_variation)}

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        names = [self.task_names[t] for t in state["world_task"]]
        obs, _ = self.reset(options={"task": names, "variation": list(state["world_variation"])})
        return obs

    def close_extras(self, **kwargs) -> None:
        for world in self.worlds:
            world.close()
