"""A suite's vector env as stable-baselines3's ``VecEnv``, stepped through the shared collector.

SB3's ``learn()`` steps its env itself; handing it this adapter puts the
shared collector (``agents.collector``) under SB3: finished worlds are reset
in the same step (SB3's convention, with ``info["terminal_observation"]`` and
``"TimeLimit.truncated"`` for the replay buffer), and each finished episode's
return, length and Meta-World success come back as SB3's ``info["episode"]``
and ``info["is_success"]``, which its logger turns into ``rollout/*``. Several
worlds per task become SB3's ``n_envs`` parallel envs.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from agents.collector import Collector


class CollectorVecEnv(VecEnv):
    """``VecEnv`` over a :class:`Collector`; ``reset()`` hands back the collector's
    current observations, since the collector starts (and restarts) episodes itself."""

    def __init__(self, collector: Collector):
        env = collector.env
        self.collector = collector  # first: VecEnv's constructor asks for attributes of the worlds
        super().__init__(collector.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None
        self._started = time.perf_counter()

    def reset(self) -> np.ndarray:
        return self.collector.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        transitions = self.collector.step(self._actions)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for episode in self.collector.last_finished:
            i = episode.world
            infos[i] = {
                "terminal_observation": transitions.next_obs[i],
                "TimeLimit.truncated": bool(transitions.truncated[i] and not transitions.terminated[i]),
                "episode": {"r": episode.episode_return, "l": episode.length, "t": round(time.perf_counter() - self._started, 6)},
                "is_success": episode.success,
            }
        dones = transitions.terminated | transitions.truncated
        return self.collector.obs.copy(), transitions.reward.astype(np.float32), dones, infos

    def close(self) -> None:
        self.collector.env.close()

    # SB3 asks a VecEnv about its sub-envs; these worlds are the vector env's own business.
    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.collector.env, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"{type(self).__name__} does not set attributes of its worlds ({attr_name!r})")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        raise AttributeError(f"{type(self).__name__} does not call methods of its worlds ({method_name!r})")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))
