"""Trials: several episodes of one task and variation in the same world.

RL² (Duan et al., 2016, Sec. 2.2) meta-trains on trials: a world keeps its
task and variation for ``episodes_per_trial`` episodes, then draws a new pair
from the meta-train split. :class:`TrialSchedule` is the collector's
``next_episode`` callback that does this for every world independently (worlds
may start trials at different steps), and says which worlds began a new trial,
so that a recurrent learner resets their state. Worlds may run a trial in
groups (``worlds_per_trial``): MAML samples several rollouts of one task and
variation side by side, so consecutive worlds share a draw.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from agents.collector import Collector
from envs.base import MAX_EPISODE_STEPS
from envs.suite import make_suite


def check_config(config, positive: Sequence[str]) -> None:
    """What every meta-RL config is checked for: the ``positive`` fields above zero, and episodes
    (``episode_steps``) no longer than the env's."""
    name = type(config).__name__
    bad = [f"{field}={getattr(config, field)}" for field in positive if getattr(config, field) <= 0]
    if bad:
        raise ValueError(f"{name} needs positive {', '.join(bad)}")
    if config.episode_steps > MAX_EPISODE_STEPS:
        raise ValueError(f"{name}.episode_steps must be at most the env's {MAX_EPISODE_STEPS}, got {config.episode_steps}")


def check_meta_learning(suite, learner: str) -> None:
    """Meta-learners need an ML benchmark: one whose test tasks or variations are held out for adaptation."""
    if not suite.config.meta_learning:
        raise ValueError(f"{learner} meta-learns: give it an ML benchmark (ML1 with a task, ML10{', ML45' if suite.name == 'metaworld' else ''}), "
                         f"not {suite.config.benchmark}")


class TrialSchedule:
    """``schedule(done) -> reset options``: the next (task, variation) of each finished world."""

    def __init__(self, tasks: Sequence[str], variations_per_task: int, num_worlds: int, episodes_per_trial: int,
                 rng: np.random.Generator, worlds_per_trial: int = 1):
        if episodes_per_trial < 1:
            raise ValueError(f"episodes_per_trial must be >= 1, got {episodes_per_trial}")
        if worlds_per_trial < 1 or num_worlds % worlds_per_trial:
            raise ValueError(f"worlds_per_trial must be >= 1 and divide the {num_worlds} worlds, got {worlds_per_trial}")
        self.worlds_per_trial = worlds_per_trial
        self.tasks, self.variations_per_task, self.episodes_per_trial = tuple(tasks), variations_per_task, episodes_per_trial
        self.rng = rng
        self.task = np.zeros(num_worlds, dtype=np.int64)
        self.variation = np.zeros(num_worlds, dtype=np.int64)
        #: episodes each world has finished in its current trial
        self.episodes_done = np.zeros(num_worlds, dtype=np.int64)
        #: the worlds whose last reset began a new trial
        self.new_trial = np.ones(num_worlds, dtype=bool)
        self._draw(np.ones(num_worlds, dtype=bool))

    def _draw(self, mask: np.ndarray) -> None:
        groups = mask.reshape(-1, self.worlds_per_trial)
        count = int(groups[:, 0].sum())
        self.task[mask] = np.repeat(self.rng.integers(len(self.tasks), size=count), self.worlds_per_trial)
        self.variation[mask] = np.repeat(self.rng.integers(self.variations_per_task, size=count), self.worlds_per_trial)
        self.episodes_done[mask] = 0

    def first_reset(self) -> dict[str, Any]:
        """Options of the first reset: every world starts its first trial."""
        return {"task": [self.tasks[t] for t in self.task], "variation": self.variation.tolist()}

    def __call__(self, done: np.ndarray) -> dict[str, Any]:
        done = np.asarray(done, dtype=bool)
        groups = done.reshape(-1, self.worlds_per_trial)
        if not (groups.all(1) | ~groups.any(1)).all():
            raise ValueError(f"the worlds of a trial ({self.worlds_per_trial} side by side) must end their episodes together")
        self.episodes_done[done] += 1
        self.new_trial = done & (self.episodes_done >= self.episodes_per_trial)
        self._draw(self.new_trial)
        return {"task": [self.tasks[t] if d else None for t, d in zip(self.task, done)],
                "variation": [int(v) if d else None for v, d in zip(self.variation, done)]}

    def state_dict(self) -> dict:
        return {"task": self.task.copy(), "variation": self.variation.copy(), "episodes_done": self.episodes_done.copy(),
                "new_trial": self.new_trial.copy(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.task, self.variation = np.array(state["task"]), np.array(state["variation"])
        self.episodes_done, self.new_trial = np.array(state["episodes_done"]), np.array(state["new_trial"])
        self.rng.bit_generator.state = state["rng"]


class TrialWorlds(NamedTuple):
    """What every on-suite meta-learner collects with: its suite, train tasks, trial schedule and collector."""

    suite: Any
    tasks: tuple[str, ...]
    schedule: TrialSchedule
    collector: Collector


def trial_worlds(env, seed: int, learner: str, setting: str, num_worlds: int, episodes_per_trial: int, episode_steps: int,
                 rng: np.random.Generator, worlds_per_trial: int = 1) -> TrialWorlds:
    """The suite of ``env`` (an ML benchmark, else an error naming them), and ``num_worlds`` worlds of its train
    split running trials of ``episodes_per_trial`` episodes of ``episode_steps`` steps, ``worlds_per_trial`` side
    by side, collected by the shared collector. ``setting`` names the config values that set ``num_worlds``, for
    the error when they are too few: every task keeps a world (the simulators build a task's model in one)."""
    suite = make_suite(env, seed)
    check_meta_learning(suite, learner)
    tasks = suite.tasks("train")
    if num_worlds < len(tasks):
        raise ValueError(f"{setting} must be at least the {len(tasks)} train tasks of {env.benchmark}, got {num_worlds}")
    schedule = TrialSchedule(tasks, suite.variations_per_task, num_worlds, episodes_per_trial, rng, worlds_per_trial=worlds_per_trial)
    collector = Collector(suite.make_vec("train", num_worlds=num_worlds), tasks, seed=seed, next_episode=schedule,
                          reset_options=schedule.first_reset(), max_episode_steps=episode_steps)
    return TrialWorlds(suite, tasks, schedule, collector)
