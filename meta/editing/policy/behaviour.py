"""The policy edits: a new target for reach when its goal lies in one quadrant, and what measures them.

An edit (``ReachEdit``) names a quadrant of reach's goal box in its x-z plane
(goal x below or above the box's centre, z below or above) and an offset: in
scope are the reach episodes whose goal lies in that quadrant, and there the
policy should reach ``goal + offset`` (clipped into ``TARGET_LOW``..``TARGET_HIGH``,
inside the arm's reach) instead of the goal.  Out of scope: reach with its
goal elsewhere, and every other task.  The desired behaviour is reach's
scripted expert aimed at the new target, so demonstrations come from the
simulator, not from labels written by hand:

* ``demonstrations``: episodes of the expert towards the new target from
  in-scope variations, its actions perturbed by Gaussian noise so that the
  states cover the neighbourhood of its path (Laskey et al., "DART", CoRL
  2017), labelled with its unperturbed action;
* ``policy_states``: states the unedited policy visits on every task, the
  out-of-scope inputs locality terms and scope classifiers train on;
* ``edit_success``: the fraction of in-scope episodes in which the policy's
  fingertips came within reach's success distance of the new target at some
  step (the suite's any-step rule); ``reach_success`` the same for the goal.

Variation seeds are drawn from disjoint ranges per use (demonstrations,
meta-training, evaluation), so that no evaluated episode was demonstrated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from envs.base import MAX_EPISODE_STEPS
from envs.batched import BatchedVectorEnv
from envs.layout import GOAL, HAND
from envs.tasks.reach import SUCCESS_DISTANCE, Reach

__all__ = ["ReachEdit", "TEST_EDITS", "sample_edits", "in_scope_seeds", "demonstrations", "policy_states", "policy_reach_states", "seed_goals",
           "edit_success", "reach_success", "SEED_RANGES"]

TARGET_LOW, TARGET_HIGH = np.array([-0.3, 0.55, 0.05]), np.array([0.3, 0.9, 0.35])
GOAL_CENTRE = (Reach.GOAL_LOW + Reach.GOAL_HIGH) / 2
#: first variation seed of each use: demonstrations, meta-training, evaluation
SEED_RANGES = {"demonstrations": 1_000_000, "meta-train": 2_000_000, "evaluation": 3_000_000}


@dataclass(frozen=True)
class ReachEdit:
    """In reach episodes whose goal lies in ``quadrant`` (0-3: bit 0 = x above centre, bit 1 = z above), reach ``goal + offset``."""

    quadrant: int
    offset: tuple[float, float, float]

    def __post_init__(self):
        if self.quadrant not in range(4):
            raise ValueError(f"quadrant must be 0-3 (bit 0: goal x above the centre, bit 1: z above), got {self.quadrant}")

    def in_scope(self, goals: np.ndarray) -> np.ndarray:
        goals = np.asarray(goals)
        high_x = goals[..., 0] > GOAL_CENTRE[0]
        high_z = goals[..., 2] > GOAL_CENTRE[2]
        return (high_x == bool(self.quadrant & 1)) & (high_z == bool(self.quadrant & 2))

    def targets(self, goals: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(goals) + np.asarray(self.offset), TARGET_LOW, TARGET_HIGH)

    def __str__(self) -> str:
        side = ("x-" if not self.quadrant & 1 else "x+") + ("z-" if not self.quadrant & 2 else "z+")
        return f"reach goal {side}: offset ({', '.join(f'{v:+.2f}' for v in self.offset)})"


#: the held-out edits of the table: one per quadrant, each moving the target 15-20 cm away, across the box
TEST_EDITS = (ReachEdit(0, (0.15, 0.0, 0.1)), ReachEdit(1, (-0.2, -0.05, 0.0)),
              ReachEdit(2, (0.1, -0.1, -0.1)), ReachEdit(3, (-0.15, 0.0, -0.12)))


def sample_edits(count: int, rng: np.random.Generator) -> list[ReachEdit]:
    """Meta-training edits: a random quadrant and an offset of 10-25 cm in a random direction."""
    edits = []
    for _ in range(count):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        edits.append(ReachEdit(int(rng.integers(4)), tuple(float(v) for v in direction * rng.uniform(0.1, 0.25))))
    return edits


def _reach_vec(seeds) -> tuple[BatchedVectorEnv, np.ndarray]:
    vec = BatchedVectorEnv(tasks=["reach"], num_envs=len(seeds), num_threads=1)
    obs, _ = vec.reset(seed=0, options={"variation_seed": [int(s) for s in seeds]})
    return vec, obs


@functools.lru_cache(maxsize=None)
def seed_goals(use: str, count: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` variation seeds of ``use``'s range and reach's goal in each [count, 3]."""
    seeds = np.arange(SEED_RANGES[use], SEED_RANGES[use] + count)
    vec, obs = _reach_vec(seeds)
    vec.close()
    return seeds, obs[:, GOAL]


def in_scope_seeds(edit: ReachEdit, count: int, use: str, skip: int = 0, inside: bool = True) -> list[int]:
    """The first ``count`` variation seeds of ``use``'s range (after ``skip`` of them) whose goal is in scope
    (``inside=False``: out of scope)."""
    seeds, goals = seed_goals(use)
    chosen = seeds[edit.in_scope(goals) == inside][skip: skip + count]
    if len(chosen) < count:
        raise ValueError(f"{use}'s seeds hold only {len(chosen)} {'in' if inside else 'out of'}-scope goals after {skip}")
    return [int(s) for s in chosen]


def _rollout(seeds, act, steps: int):
    """Obs [steps + 1, N, 39] of reach episodes from ``seeds`` under ``act(obs) -> actions``."""
    vec, obs = _reach_vec(seeds)
    trace = []
    try:
        for _ in range(steps):
            trace.append(obs)
            obs, _, _, _, _ = vec.step(act(obs))
        trace.append(obs)
    finally:
        vec.close()
    return np.stack(trace)


def demonstrations(edits: Sequence[ReachEdit], seeds: Sequence[Sequence[int]], *, steps: int = 100, noise: float = 0.3,
                   every: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per edit, (states [E, N, 39], expert actions [E, N, 4]) of noisy expert episodes from its ``seeds`` towards
    its new targets, every ``every``-th step; every edit's episodes run together (one batched simulator)."""
    rng = np.random.default_rng(seed)
    episodes = len(seeds[0])
    if any(len(s) != episodes for s in seeds) or len(seeds) != len(edits):
        raise ValueError("need one list of seeds per edit, all of the same length")
    owner = np.repeat(np.arange(len(edits)), episodes)

    def expert(obs, owner):
        aimed = obs.copy()
        for index, edit in enumerate(edits):
            rows = owner == index
            aimed[rows, GOAL] = edit.targets(obs[rows, GOAL])
        return np.stack([Reach.expert(o) for o in aimed])

    def noisy(obs):
        return np.clip(expert(obs, owner) + rng.normal(0, noise, (len(obs), 4)), -1, 1)

    trace = _rollout([s for group in seeds for s in group], noisy, steps)[:-1:every]  # [T, E * episodes, 39]
    states = trace.reshape(len(trace), len(edits), episodes, -1).transpose(1, 2, 0, 3).reshape(len(edits), -1, trace.shape[-1])
    labels = expert(states.reshape(-1, states.shape[-1]), np.repeat(np.arange(len(edits)), states.shape[1]))
    return states.astype(np.float32), labels.reshape(len(edits), -1, 4).astype(np.float32)


def policy_states(policy, benchmark: str = "MT10", episodes_per_task: int = 4, *, steps: int = 200, every: int = 4,
                  noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(states [N, 39], task ids [N]) the policy visits on every task's train variations, with a little action noise."""
    rng = np.random.default_rng(seed)
    vec = BatchedVectorEnv(benchmark, "train", len(policy.task_names) * episodes_per_task, num_threads=1)
    worlds = np.arange(vec.num_envs)
    obs, info = vec.reset(seed=seed, options={"task": [None] * vec.num_envs, "variation": list(worlds // len(policy.task_names))})
    ids = np.asarray(info["task_id"])
    act = policy.numpy_policy()
    states = []
    try:
        for step in range(steps):
            if step % every == 0:
                states.append(obs)
            obs, _, _, _, _ = vec.step(np.clip(act(obs, ids) + rng.normal(0, noise, (len(obs), 4)), -1, 1))
    finally:
        vec.close()
    return np.concatenate(states).astype(np.float32), np.tile(ids, len(states))


def policy_reach_states(policy, seeds, *, steps: int = 200, every: int = 4, noise: float = 0.1,
                        seed: int = 0) -> np.ndarray:
    """States [N, 39] the policy visits on reach from ``seeds`` (many goals: the scope's hard negatives)."""
    rng, act = np.random.default_rng(seed), policy.numpy_policy()
    ids = np.full(len(seeds), policy.task_id("reach"))
    trace = _rollout(seeds, lambda obs: np.clip(act(obs, ids) + rng.normal(0, noise, (len(obs), 4)), -1, 1), steps)
    return trace[:-1:every].reshape(-1, trace.shape[-1]).astype(np.float32)


def _closest_distances(policy, task_id: int, seeds, targets_of, steps: int) -> np.ndarray:
    """Per episode, the closest the fingertips came to ``targets_of(goals)``."""
    act = policy.numpy_policy()
    ids = np.full(len(seeds), task_id)
    trace = _rollout(seeds, lambda obs: act(obs, ids), steps)
    targets = targets_of(trace[0][:, GOAL])
    return np.linalg.norm(trace[..., HAND] - targets[None], axis=-1).min(axis=0)


def edit_success(policy, edit: ReachEdit, seeds, steps: int = MAX_EPISODE_STEPS) -> float:
    """Fraction of the episodes (in-scope seeds) in which the policy reached the edit's new target."""
    distances = _closest_distances(policy, policy.task_id("reach"), seeds, edit.targets, steps)
    return float((distances <= SUCCESS_DISTANCE).mean())


def reach_success(policy, seeds, steps: int = MAX_EPISODE_STEPS) -> float:
    """Fraction of the episodes in which the policy reached reach's own goal."""
    distances = _closest_distances(policy, policy.task_id("reach"), seeds, lambda goals: goals, steps)
    return float((distances <= SUCCESS_DISTANCE).mean())
