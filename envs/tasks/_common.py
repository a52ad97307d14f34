"""Small helpers shared by the task files: expert moves, info dicts, and the
observation slices (re-exported from ``envs.layout``, where they are named once)."""

from __future__ import annotations

import numpy as np

from envs.base import INFO_KEYS
from envs.layout import GOAL, GRIPPER, HAND, OBJ1, OBJ2, QUAT1, QUAT2  # noqa: F401  (the tasks import them from here)
from envs.rewards import distance

OPEN, CLOSE = -1.0, 1.0


#: what one world's info values are (np.float64 is a float); most common first
_SCALARS = (float, np.bool_, bool, int, np.floating, np.integer)


def component(x: np.ndarray, index: int):
    """``x[..., index]``, but a numpy scalar rather than a 0-d array for a 1-d ``x``.

    Every operation on a 0-d array costs several times one on a scalar, and
    one world's ``evaluate`` does dozens of them.
    """
    return x[..., index][()]


def move(hand: np.ndarray, target: np.ndarray, grip: float, gain: float = 25.0) -> np.ndarray:
    """Expert action: a proportional step of the hand towards ``target``."""
    delta = np.clip(gain * (np.asarray(target) - hand), -1.0, 1.0)
    return np.array([delta[0], delta[1], delta[2], grip])


def horizontal_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return distance(np.asarray(a)[..., :2], np.asarray(b)[..., :2])


def info(success, near_object=0.0, grasp_success=0.0, grasp_reward=0.0, in_place_reward=0.0, obj_to_target=0.0, unscaled_reward=0.0):
    """The ``INFO_KEYS`` dict, every value a float array broadcast to one batch shape.

    When every value is a scalar (one world), the values are plain floats.
    """
    values = (success, near_object, grasp_success, grasp_reward, in_place_reward, obj_to_target, unscaled_reward)
    for value in values:
        if not isinstance(value, _SCALARS):
            break
    else:  # a single world: plain floats, without numpy's per-call cost
        return dict(zip(INFO_KEYS, map(float, values)))
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values))
    return {key: np.array(array) for key, array in zip(INFO_KEYS, arrays)}
