"""The shared collector: steps a vector env with a batch policy, for every RL learner.

What each learner would otherwise write again:

* it reads every world's task id from ``info["task_id"]`` at every reset and
  step, so worlds may change task between episodes (a meta-learner samples
  tasks; an RL² trial keeps one for several episodes);
* it resets finished worlds itself, with ``options={"reset_mask": done}``
  right after the step that ended them, so gymnasium's ``NEXT_STEP`` autoreset
  never spends a step of the whole batch on them: every step yields one real
  transition per world, and ``next_episode(done)`` may choose the task and
  variation a finished world runs next;
* it keeps episode return, success (``info["success"]`` 1 at any step, Meta-World's
  protocol) and length per world, and their means per task over the episodes
  finished since the last :meth:`Collector.pop_metrics`;
* it ends episodes at ``max_episode_steps`` when asked (truncated, as a
  shorter env episode would be), so a learner may train on episodes shorter
  than the env's 500 steps;
* its state (with the env's snapshot) resumes collection exactly where the env
  restores its physics (``restores_episodes``); otherwise the restored worlds
  start new episodes.

Transitions come back as numpy arrays for the caller's buffer or rollout store.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import gymnasium as gym
import numpy as np


class Transitions(NamedTuple):
    """One vector step: row ``i`` is world ``i``'s transition."""

    obs: np.ndarray  #: [N, obs_dim] what the policy saw
    action: np.ndarray  #: [N, action_dim]
    reward: np.ndarray  #: [N]
    next_obs: np.ndarray  #: [N, obs_dim] the step's observation (an episode's last one when it ended)
    terminated: np.ndarray  #: [N] bool
    truncated: np.ndarray  #: [N] bool
    task_id: np.ndarray  #: [N] the task each world ran in this step


class Episode(NamedTuple):
    world: int
    task_id: int
    episode_return: float
    success: bool
    length: int


#: (observations [N, obs_dim], task ids [N]) -> actions [N, action_dim]
BatchPolicy = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: done mask [N] -> extra reset options for those worlds (``task``/``variation`` lists with one entry per world)
NextEpisode = Callable[[np.ndarray], dict[str, Any]]


class Collector:
    """``Collector(env, task_names, seed=...)``: see the module docstring; ``reset_options`` go to the
    first reset (e.g. each world's first task and variation)."""

    def __init__(self, env: gym.vector.VectorEnv, task_names: Sequence[str], *, seed: int | None = None,
                 next_episode: NextEpisode | None = None, reset_options: dict[str, Any] | None = None,
                 max_episode_steps: int | None = None):
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        self.env, self.task_names, self.next_episode = env, tuple(task_names), next_episode
        self.max_episode_steps = max_episode_steps
        self.num_envs = env.num_envs
        obs, info = env.reset(seed=seed, options=reset_options)
        self.obs = np.array(obs)
        self.task_ids = self._task_ids(info)
        self.env_steps = 0
        n = self.num_envs
        self.episode_return, self.episode_success, self.episode_length = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        #: the episodes the last step finished, and all those since the last ``pop_metrics``
        self.last_finished: list[Episode] = []
        self._finished: list[Episode] = []

    def _task_ids(self, info: dict) -> np.ndarray:
        if "task_id" not in info:
            raise ValueError("the vector env reports no info['task_id']; the collector needs every world's task id")
        return np.asarray(info["task_id"], dtype=np.int64).copy()

    def collect(self, policy: BatchPolicy) -> Transitions:
        """One vector step with ``policy``'s actions for the current observations."""
        return self.step(np.asarray(policy(self.obs, self.task_ids)))

    def step(self, actions: np.ndarray) -> Transitions:
        """Step every world with ``actions``; finished worlds are reset before this returns."""
        next_obs, reward, terminated, truncated, info = self.env.step(actions)
        if self.max_episode_steps is not None:
            truncated = np.asarray(truncated, dtype=bool) | (self.episode_length + 1 >= self.max_episode_steps)
        transitions = Transitions(self.obs, np.asarray(actions), np.asarray(reward, dtype=np.float64), np.array(next_obs),
                                  np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool), self.task_ids)
        self.episode_return += transitions.reward
        self.episode_length += 1
        success = np.asarray(info.get("success", np.zeros(self.num_envs)), dtype=np.float64) > 0.5
        self.episode_success |= success & np.asarray(info.get("_success", np.ones(self.num_envs, dtype=bool)), dtype=bool)
        self.env_steps += self.num_envs
        self.obs, self.task_ids = np.array(next_obs), self._task_ids(info)
        done = transitions.terminated | transitions.truncated
        self.last_finished = []
        if done.any():
            self._finish(done)
        return transitions

    def _finish(self, done: np.ndarray) -> None:
        for world in np.flatnonzero(done):
            episode = Episode(int(world), int(self.task_ids[world]), float(self.episode_return[world]),
                              bool(self.episode_success[world]), int(self.episode_length[world]))
            self.last_finished.append(episode)
        self._finished.extend(self.last_finished)
        self.reset_worlds(done, self.next_episode(done) if self.next_episode is not None else {})

    def reset_worlds(self, mask: np.ndarray, options: dict[str, Any] | None = None, seed=None) -> None:
        """Start new episodes in the worlds of ``mask`` (with per-world ``options``: task, variation)."""
        obs, info = self.env.reset(seed=seed, options={**(options or {}), "reset_mask": np.asarray(mask, dtype=bool)})
        self.obs[mask] = np.asarray(obs)[mask]
        self.task_ids[mask] = self._task_ids(info)[mask]
        self.episode_return[mask], self.episode_success[mask], self.episode_length[mask] = 0.0, False, 0

    def pop_metrics(self) -> dict[str, float]:
        """Mean return, success and length of the episodes finished since the last call: over all
        (``charts/episode_*``) and per task (``charts/<task>/episode_*``); empty if none finished."""
        finished, self._finished = self._finished, []
        if not finished:
            return {}
        metrics = _episode_means(finished, "charts/")
        for task_id in sorted({episode.task_id for episode in finished}):
            of_task = [episode for episode in finished if episode.task_id == task_id]
            metrics.update(_episode_means(of_task, f"charts/{self.task_names[task_id]}/"))
        return metrics

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "env": self.env.get_state(),
            "obs": self.obs.copy(),
            "task_ids": self.task_ids.copy(),
            "env_steps": self.env_steps,
            "episode_return": self.episode_return.copy(),
            "episode_success": self.episode_success.copy(),
            "episode_length": self.episode_length.copy(),
            "finished": [tuple(episode) for episode in self._finished],
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["obs"]) != self.num_envs:
            raise ValueError(f"collector state holds {len(state['obs'])} worlds, this env has {self.num_envs}: load it with the config it was saved with")
        restored_obs = self.env.set_state(state["env"])
        self.env_steps = int(state["env_steps"])
        self._finished = [Episode(*episode) for episode in state["finished"]]
        if getattr(self.env, "restores_episodes", False):
            self.obs, self.task_ids = np.array(state["obs"]), np.array(state["task_ids"], dtype=np.int64)
            self.episode_return = np.array(state["episode_return"])
            self.episode_success = np.array(state["episode_success"], dtype=bool)
            self.episode_length = np.array(state["episode_length"], dtype=np.int64)
            return
        # the env restarted its episodes (its snapshots hold no physics): so does collection
        self.obs, self.task_ids = np.array(restored_obs), np.array(state["task_ids"], dtype=np.int64)
        self.episode_return[:], self.episode_success[:], self.episode_length[:] = 0.0, False, 0


def _episode_means(episodes: list[Episode], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}episode_return": float(np.mean([e.episode_return for e in episodes])),
        f"{prefix}episode_success": float(np.mean([e.success for e in episodes])),
        f"{prefix}episode_length": float(np.mean([e.length for e in episodes])),
    }
