"""Simulation beyond one process: Ray actors that each step a share of the worlds.

:class:`RayVectorEnv` is the vector env of :class:`~envs.batched.BatchedVectorEnv`
(the same worlds, tasks, seeds, reset options, ``info["task_id"]``,
``get_state``/``set_state`` snapshots and ``NEXT_STEP`` autoreset) with its
worlds split into contiguous shares, each simulated by a Ray actor that owns
a ``BatchedVectorEnv`` over its share. A step scatters the action rows to the
actors, which simulate in parallel (on other cores, or on other machines of a
Ray cluster), and gathers their rows back in world order, so a learner can
collect from more cores than its own process has. World ``i`` runs the task,
variation and random stream it runs in the in-process simulator, and the two
exchange snapshots.

Ray is the optional extra ``polytask[sweep]``; nothing else imports this
module. The suite builds it when ``--env.simulation-actors`` is above 0 (0,
the default, keeps the in-process simulator). It joins the Ray instance this
process is already connected to, else ``ray.init(address)`` (None: the
``RAY_ADDRESS`` of the environment, else a new local instance).

Why actors and not gymnasium's ``AsyncVectorEnv``: its subprocesses live on
this machine and hold one world each, so its per-step pipe traffic grows with
the worlds; an actor holds a whole batched simulator and can live anywhere
Ray schedules it.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from envs.batched import BatchedVectorEnv
from envs.benchmarks import Benchmark, get_benchmark
from envs.vector import WORLD_OPTIONS, assign_worlds, pop_reset_mask, split_world_options, world_seeds

__all__ = ["RayVectorEnv", "import_ray", "shares"]

#: how long actors may take to start (imports, building their worlds) before their CPUs count as unavailable
ACTOR_START_SECONDS = 120
RAY_MISSING = "simulation actors run on Ray, an optional extra: pip install 'polytask[sweep]'"


def import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(RAY_MISSING) from None
    return ray


def shares(num_envs: int, num_actors: int) -> list[slice]:
    """Contiguous, near-equal shares of ``num_envs`` worlds, one per actor (the first ones one larger)."""
    if not 1 <= num_actors <= num_envs:
        raise ValueError(f"simulation actors must number between 1 and the worlds ({num_envs}), got {num_actors}")
    sizes = [num_envs // num_actors + (k < num_envs % num_actors) for k in range(num_actors)]
    bounds = np.cumsum([0, *sizes])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


class _Share:
    """A Ray actor's body: a batched simulator over a share of the worlds."""

    def __init__(self, bench: Benchmark, split: str, world_tasks: list[str], kwargs: dict[str, Any]):
        self.env = BatchedVectorEnv(bench, split, world_tasks=world_tasks, **kwargs)

    def reset(self, seeds: list[int | None], options: dict[str, Any]):
        return self.env.reset(seed=seeds, options=options)

    def step(self, actions: np.ndarray):
        return self.env.step(actions)

    def get_state(self) -> dict[str, Any]:
        return self.env.get_state()

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        return self.env.set_state(state)

    def tasks_now(self) -> list[str]:
        return self.env.tasks_now

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        return self.env.single_observation_space, self.env.single_action_space

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()


class RayVectorEnv(gym.vector.VectorEnv):
    """``BatchedVectorEnv``'s worlds stepped by ``num_actors`` Ray actors (see the module docstring).

    Args:
        benchmark, split, num_envs, one_hot, env_kwargs: as :class:`BatchedVectorEnv`'s.
        num_actors: actors, each simulating a contiguous share of the worlds.
        threads_per_actor: physics threads of each actor (and the CPUs it asks Ray for).
        address: the Ray instance to join when not connected yet (None: ``RAY_ADDRESS``, else a new local one).
    """

    metadata = BatchedVectorEnv.metadata
    restores_episodes = True

    def __init__(self, benchmark: Benchmark | str, split: str = "train", num_envs: int | None = None, *,
                 num_actors: int = 2, threads_per_actor: int = 1, address: str | None = None,
                 one_hot: bool = False, **env_kwargs: Any):
        ray = import_ray()
        bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
        self.world_tasks = assign_worlds(bench, split, num_envs)
        self.benchmark, self.split, self.task_names = bench, split, bench.tasks(split)
        self.num_envs, self.one_hot = len(self.world_tasks), one_hot
        self._shares = shares(self.num_envs, num_actors)
        if threads_per_actor < 1:
            raise ValueError(f"threads_per_actor must be >= 1, got {threads_per_actor}")
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, logging_level="warning", log_to_driver=False)
        self._ray = ray
        cpus = ray.cluster_resources().get("CPU", 0)
        if num_actors * threads_per_actor > cpus:  # Ray would hold the extra actors pending, the first step waiting forever
            raise ValueError(f"{num_actors} simulation actors of {threads_per_actor} physics thread(s) need "
                             f"{num_actors * threads_per_actor} CPUs; the Ray cluster has {cpus:g}: ask for fewer actors or threads")
        actor = ray.remote(num_cpus=threads_per_actor)(_Share)
        kwargs = dict(env_kwargs, one_hot=one_hot, num_threads=threads_per_actor)
        self._actors = [actor.remote(bench, split, self.world_tasks[share], kwargs) for share in self._shares]
        self._closed_actors = False
        # CPUs that other work holds (a sweep's trials, another env's actors) leave actors pending
        # for good: fail with what is missing rather than wait forever at the first step
        ready, _ = ray.wait([a.__ray_ready__.remote() for a in self._actors], num_returns=len(self._actors), timeout=ACTOR_START_SECONDS)
        self._started = len(ready) == len(self._actors)
        if not self._started:
            free = ray.available_resources().get("CPU", 0)
            self.close_extras()
            raise ValueError(f"{len(self._actors) - len(ready)} of {num_actors} simulation actors were not started within "
                             f"{ACTOR_START_SECONDS} s: they need {num_actors * threads_per_actor} CPUs and the Ray cluster has "
                             f"{free:g} of {cpus:g} free; ask for fewer actors or threads")
        self.render_mode = env_kwargs.get("render_mode")
        # the spaces are the in-process simulator's: the first actor's, rather than a world built here for them
        self.single_observation_space, self.single_action_space = ray.get(self._actors[0].spaces.remote())
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        #: the observations last returned (a partial reset returns the untouched worlds' again); None before the first reset
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        """As :meth:`BatchedVectorEnv.reset`: world ``i`` gets seed ``seed + i``; per-world options are split among the actors."""
        options = dict(options or {})
        mask = pop_reset_mask(options, self.num_envs, first_reset=self._obs is None)
        split_world_options(options, self.num_envs)  # checks the per-world lists before any actor sees them
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        seeds = world_seeds(seed, self.num_envs)
        calls, reset_shares = [], []
        for actor, share in zip(self._actors, self._shares):
            if not mask[share].any():
                continue
            share_options = {key: list(value[share]) if key in WORLD_OPTIONS else value for key, value in options.items()}
            share_options["reset_mask"] = mask[share].copy()
            calls.append(actor.reset.remote(seeds[share], share_options))
            reset_shares.append(share)
        infos: dict[str, Any] = {}
        for share, (share_obs, share_info) in zip(reset_shares, self._ray.get(calls)):
            if self._obs is None:
                self._obs = np.empty((self.num_envs, share_obs.shape[1]), share_obs.dtype)
            self._obs[share] = share_obs
            place_infos(infos, share_info, share, self.num_envs)
        return self._obs.copy(), infos

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, *self.single_action_space.shape):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.single_action_space.shape[0]}), got {actions.shape}")
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        results = self._ray.get([actor.step.remote(actions[share]) for actor, share in zip(self._actors, self._shares)])
        obs, rewards, terminations, truncations = (np.concatenate([r[k] for r in results]) for k in range(4))
        self._obs = obs
        infos: dict[str, Any] = {}
        for share, result in zip(self._shares, results):
            place_infos(infos, result[4], share, self.num_envs)
        return obs, rewards, terminations, truncations, infos

    def get_state(self) -> dict[str, Any]:
        """The snapshot of :meth:`BatchedVectorEnv.get_state` (the actors' shares joined in world order)."""
        states = self._ray.get([actor.get_state.remote() for actor in self._actors])
        return {"worlds": [w for state in states for w in state["worlds"]],
                **{key: np.concatenate([state[key] for state in states]) for key in ("autoreset", "terminations", "truncations")}}

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        if len(state["worlds"]) != self.num_envs:
            raise ValueError(f"snapshot holds {len(state['worlds'])} worlds, this vector env has {self.num_envs}")
        parts = [{"worlds": state["worlds"][share], **{key: np.asarray(state[key])[share] for key in ("autoreset", "terminations", "truncations")}}
                 for share in self._shares]
        self._obs = np.concatenate(self._ray.get([actor.set_state.remote(part) for actor, part in zip(self._actors, parts)]))
        return self._obs.copy()

    @property
    def tasks_now(self) -> list[str]:
        return [task for tasks in self._ray.get([actor.tasks_now.remote() for actor in self._actors]) for task in tasks]

    def render(self):
        return tuple(frame for frames in self._ray.get([actor.render.remote() for actor in self._actors]) for frame in frames)

    def close_extras(self, **kwargs: Any) -> None:
        if self._closed_actors:
            return
        self._closed_actors = True
        try:
            # the worlds' own close (renderers, thread pools); an actor that never started is just killed
            self._ray.wait([actor.close.remote() for actor in self._actors], num_returns=len(self._actors), timeout=30 if self._started else 0)
        finally:
            for actor in self._actors:
                self._ray.kill(actor)


def place_infos(infos: dict[str, Any], share_infos: dict[str, Any], share: slice, num_envs: int) -> dict[str, Any]:
    """Put a share's vector infos (gymnasium's ``key`` / ``_key`` layout) at its worlds' rows of ``infos``."""
    for key, value in share_infos.items():
        if key.startswith("_") and key[1:] in share_infos:
            continue  # a mask, placed with its value
        if isinstance(value, dict):
            infos[key] = place_infos(infos.get(key, {}), value, share, num_envs)
        else:
            value = np.asarray(value)
            if key not in infos:
                infos[key] = np.zeros((num_envs, *value.shape[1:]), value.dtype) if value.dtype != object else np.full(num_envs, None, object)
            infos[key][share] = value
        mask = infos.setdefault(f"_{key}", np.zeros(num_envs, dtype=bool))
        mask[share] = share_infos.get(f"_{key}", True)
    return infos
