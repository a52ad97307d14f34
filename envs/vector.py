"""One env that can run any task of a benchmark, and vector envs over benchmarks.

``MultiTaskEnv`` holds one task env per task it may run (built lazily) and
switches between them at reset: ``reset(options={"task": "push", "variation":
i})`` runs the ``i``-th of push's variations in the env's split
(``envs.variations``; ``"variation_seed"`` takes a raw seed instead).
Between resets it keeps its task; the next variation is drawn from the
task's variations of the split unless one is pinned (an RL² trial pins one
so its episodes share a variation). ``BenchmarkVectorEnv`` is gymnasium's
``SyncVectorEnv`` over such envs, with per-world choices of task and
variation. Its autoreset mode is gymnasium's default, ``NEXT_STEP``: the
step after an episode ends returns the first observation of the next one.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from envs.base import PolytaskEnv
from envs.benchmarks import Benchmark, get_benchmark
from envs.layout import ACTION_DIM, OBS_DIM
from envs.registry import get_task, unknown_name_error
from envs.variations import check_index, check_seed, parse_variation_options

#: per-world reset options of the vector envs (one entry per world)
WORLD_OPTIONS = ("task", "variation", "variation_seed")


class MultiTaskEnv(gym.Env):
    """A gymnasium env over a benchmark split's tasks; one task active at a time."""

    metadata = PolytaskEnv.metadata

    def __init__(
        self,
        benchmark: Benchmark | str = "MT10",
        split: str = "train",
        task: str | None = None,
        one_hot: bool = False,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ):
        self.benchmark = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
        self.split = split
        self.task_names = self.benchmark.tasks(split)
        self.one_hot = one_hot
        self.render_mode = render_mode
        self._env_kwargs = dict(env_kwargs, render_mode=render_mode)
        self._envs: dict[str, PolytaskEnv] = {}
        self._pools = {t: self.benchmark.variations(t, split) for t in self.task_names}
        self._task = self._check_task(task if task is not None else self.task_names[0])
        #: ("variation", index) or ("variation_seed", seed) while one is pinned
        self._pinned_variation: tuple[str, int] | None = None
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        inner = self._env(self._task).observation_space
        if one_hot:
            n = len(self.task_names)
            low = np.concatenate([inner.low, np.zeros(n)])
            high = np.concatenate([inner.high, np.ones(n)])
            self.observation_space = gym.spaces.Box(low, high, (OBS_DIM + n,), np.float64)
        else:
            self.observation_space = inner

    def _check_task(self, task: str) -> str:
        if task not in self.task_names:
            where = f"{self.benchmark.name}/{self.split}"
            raise unknown_name_error(f"task of {where}", task, self.task_names, plural=f"tasks of {where}")
        return task

    def _env(self, task: str) -> PolytaskEnv:
        if task not in self._envs:
            self._envs[task] = get_task(task)(**self._env_kwargs)
        return self._envs[task]

    @property
    def task(self) -> str:
        return self._task

    @property
    def task_id(self) -> int:
        return self.task_names.index(self._task)

    @property
    def active(self) -> PolytaskEnv:
        return self._env(self._task)

    def _augment(self, obs: np.ndarray) -> np.ndarray:
        if not self.one_hot:
            return obs
        code = np.zeros(len(self.task_names))
        code[self.task_id] = 1.0
        return np.concatenate([obs, code])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Options: ``task`` (a name of this split), ``variation`` (an index into
        the task's variations of this split) or ``variation_seed`` (a raw seed);
        a variation set to None goes back to drawing one from the split's."""
        super().reset(seed=seed)
        options = dict(options or {})
        task = options.pop("task", None)
        chosen = parse_variation_options(options, WORLD_OPTIONS[1:])
        if task is not None:
            new_task = self._check_task(task)
            if new_task != self._task:
                self._pinned_variation = None
            self._task = new_task
        pool = self._pools[self._task]
        if chosen.get("variation") is not None:
            where = f"{self._task} in {self.benchmark.name}/{self.split}"
            self._pinned_variation = ("variation", check_index(chosen["variation"], len(pool), where))
        elif chosen.get("variation_seed") is not None:
            self._pinned_variation = ("variation_seed", check_seed(chosen["variation_seed"]))
        elif chosen:
            self._pinned_variation = None
        kind, value = self._pinned_variation or ("variation", int(self.np_random.integers(len(pool))))
        variation_seed = pool[value] if kind == "variation" else value
        obs, info = self.active.reset(seed=seed, options={"variation_seed": variation_seed})
        info.update(task_id=self.task_id, variation=value if kind == "variation" else None)
        return self._augment(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.active.step(action)
        info["task_id"] = self.task_id
        return self._augment(obs), reward, terminated, truncated, info

    def get_state(self) -> dict[str, Any]:
        """A snapshot of the active task, its variation pinning and every built task env."""
        return {
            "task": self._task,
            "pinned_variation": self._pinned_variation,
            "np_random": self.np_random.bit_generator.state,
            "envs": {task: env.get_state() for task, env in self._envs.items()},
        }

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore a :meth:`get_state` snapshot; returns the current observation."""
        self._task = self._check_task(state["task"])
        pinned = state["pinned_variation"]
        self._pinned_variation = None if pinned is None else tuple(pinned)
        self.np_random.bit_generator.state = state["np_random"]
        obs = None
        for task, env_state in state["envs"].items():
            restored = self._env(self._check_task(task)).set_state(env_state)
            if task == self._task:
                obs = restored
        if obs is None:
            raise ValueError(f"snapshot has no state for its active task {self._task!r}")
        return self._augment(obs)

    def render(self):
        return self.active.render()

    def close(self):
        for env in self._envs.values():
            env.close()


class BenchmarkVectorEnv(gym.vector.SyncVectorEnv):
    """``SyncVectorEnv`` over ``MultiTaskEnv`` worlds, one task per world to start
    (round robin over the split's tasks), with per-world task/variation choice:
    ``reset(options={"task": [...], "variation": [...]})`` takes one entry per
    world (``None`` keeps a world's task / draws its variation)."""

    #: snapshots hold the physics: a restored world continues its episode
    restores_episodes = True

    def __init__(self, benchmark: Benchmark | str, split: str = "train", num_envs: int | None = None, **env_kwargs):
        bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
        self.benchmark, self.split = bench, split
        self.world_tasks = assign_worlds(bench, split, num_envs)

        def factory(task):
            return lambda: MultiTaskEnv(bench, split, task=task, **env_kwargs)

        super().__init__([factory(t) for t in self.world_tasks])

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every world, or those in ``options["reset_mask"]``; ``task``,
        ``variation`` and ``variation_seed`` take one entry per world."""
        options = dict(options or {})
        if not any(key in options for key in WORLD_OPTIONS):
            return super().reset(seed=seed, options=options or None)
        mask = pop_reset_mask(options, self.num_envs)
        self._terminations[mask] = self._truncations[mask] = self._autoreset_envs[mask] = False
        infos: dict[str, Any] = {}
        world_options = split_world_options(options, self.num_envs)
        seeds = world_seeds(seed, self.num_envs)
        for i in np.flatnonzero(mask):
            self._env_obs[i], info = self.envs[i].reset(seed=seeds[i], options=world_options[i])
            infos = self._add_info(infos, info, i)
        self._observations = gym.vector.utils.concatenate(self.single_observation_space, self._env_obs, self._observations)
        return np.copy(self._observations), infos

    def get_state(self) -> dict[str, Any]:
        """Every world's snapshot plus the autoreset bookkeeping."""
        return {
            "worlds": [env.unwrapped.get_state() for env in self.envs],
            "autoreset": self._autoreset_envs.copy(),
            "terminations": self._terminations.copy(),
            "truncations": self._truncations.copy(),
        }

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore :meth:`get_state`; returns the current batch of observations."""
        if len(state["worlds"]) != self.num_envs:
            raise ValueError(f"snapshot holds {len(state['worlds'])} worlds, this vector env has {self.num_envs}")
        for i, (env, world_state) in enumerate(zip(self.envs, state["worlds"])):
            self._env_obs[i] = env.unwrapped.set_state(world_state)
        self._autoreset_envs = np.array(state["autoreset"], dtype=bool)
        self._terminations = np.array(state["terminations"], dtype=bool)
        self._truncations = np.array(state["truncations"], dtype=bool)
        self._observations = gym.vector.utils.concatenate(self.single_observation_space, self._env_obs, self._observations)
        return np.copy(self._observations)

    @property
    def tasks_now(self) -> list[str]:
        """The task each world is running."""
        return [env.unwrapped.task for env in self.envs]


def assign_worlds(benchmark: Benchmark, split: str, num_envs: int | None, world_tasks: Sequence[str] | None = None) -> list[str]:
    """The task each world starts on: round robin over the split's tasks, or ``world_tasks``.

    ``num_envs`` None or 1 means one world per task; otherwise it must cover every task.
    ``world_tasks`` names each world's task instead (a share of a larger vector env's
    worlds, which need not cover every task); ``num_envs`` is then None or its length.
    """
    tasks = benchmark.tasks(split)
    if world_tasks is not None:
        unknown = sorted(set(world_tasks) - set(tasks))
        if unknown or not world_tasks or num_envs not in (None, len(world_tasks)):
            raise ValueError(f"world_tasks must name one or more of {benchmark.name} {split}'s tasks {list(tasks)} "
                             f"(num_envs None or their number), got {list(world_tasks)!r} and num_envs={num_envs!r}")
        return list(world_tasks)
    num_envs = len(tasks) if num_envs in (None, 1) else num_envs
    if not isinstance(num_envs, (int, np.integer)) or num_envs < len(tasks):
        raise ValueError(f"{benchmark.name} {split} has {len(tasks)} tasks: num_envs must be 1 (one world per task) or >= {len(tasks)}, got {num_envs!r}")
    return [tasks[i % len(tasks)] for i in range(int(num_envs))]


def world_seeds(seed: int | Sequence[int | None] | None, num_envs: int) -> list[int | None]:
    """One reset seed per world: none, ``seed + i`` for an int, or the given list."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(num_envs)]
    if len(seed) != num_envs:
        raise ValueError(f"seed must be an int or one seed per world ({num_envs}), got {len(seed)} seeds")
    return list(seed)


def pop_reset_mask(options: dict[str, Any], num_envs: int, first_reset: bool = False) -> np.ndarray:
    """The worlds ``options["reset_mask"]`` names (popped from ``options``; every world when absent).
    A vector env's ``first_reset`` must reset every world: the others have no episode to keep."""
    mask = options.pop("reset_mask", None)
    mask = np.ones(num_envs, dtype=bool) if mask is None else check_reset_mask(mask, num_envs)
    if first_reset and not mask.all():
        raise ValueError("the first reset() must reset every world; options['reset_mask'] chooses among worlds already running")
    return mask


def check_reset_mask(mask: Any, num_envs: int) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,) or not mask.any():
        raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({num_envs},) with a True entry, got {mask!r}")
    return mask


def split_world_options(options: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Each world's reset options from vector options whose ``task``,
    ``variation`` and ``variation_seed`` hold one entry per world (a ``None``
    task keeps the world's task; a ``None`` variation draws one from the
    split's); other keys go to every world."""
    shared = {key: value for key, value in options.items() if key not in WORLD_OPTIONS}
    per_world = {key: options[key] for key in WORLD_OPTIONS if key in options}
    for key, values in per_world.items():
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) != num_envs:
            raise ValueError(f"options[{key!r}] needs one entry per world ({num_envs}), got {values!r}")
    worlds = []
    for i in range(num_envs):
        world = dict(shared)
        if per_world.get("task") is not None and per_world["task"][i] is not None:
            world["task"] = per_world["task"][i]
        for key in WORLD_OPTIONS[1:]:
            if key in per_world:
                world[key] = per_world[key][i]
        worlds.append(world)
    return worlds


def make_benchmark_vec(benchmark: str | Benchmark = "MT10", split: str = "train", num_envs: int | None = None, task: str | None = None, **env_kwargs) -> BenchmarkVectorEnv:
    """Vector env over a benchmark split (``task`` for MT1/ML1)."""
    bench = get_benchmark(benchmark, task) if isinstance(benchmark, str) else benchmark
    return BenchmarkVectorEnv(bench, split, num_envs, **env_kwargs)
