"""Small helpers shared by the task files: expert moves and object slices."""

from __future__ import annotations

import numpy as np

HAND = slice(0, 3)
GRIPPER = 3
OBJ1 = slice(4, 7)
QUAT1 = slice(7, 11)
OBJ2 = slice(11, 14)
QUAT2 = slice(14, 18)
GOAL = slice(36, 39)

OPEN, CLOSE = -1.0, 1.0


def move(hand: np.ndarray, target: np.ndarray, grip: float, gain: float = 25.0) -> np.ndarray:
    """Expert action: a proportional step of the hand towards ``target``."""
    delta = np.clip(gain * (np.asarray(target) - hand), -1.0, 1.0)
    return np.array([delta[0], delta[1], delta[2], grip])


def horizontal_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(a)[..., :2] - np.asarray(b)[..., :2], axis=-1)


def info(success, near_object=0.0, grasp_success=0.0, grasp_reward=0.0, in_place_reward=0.0, obj_to_target=0.0, unscaled_reward=0.0):
    """The ``INFO_KEYS`` dict, every value a float array of the batch's shape."""
    return {
        "success": np.asarray(success, dtype=np.float64),
        "near_object": np.asarray(near_object, dtype=np.float64),
        "grasp_success": np.asarray(grasp_success, dtype=np.float64),
        "grasp_reward": np.asarray(grasp_reward, dtype=np.float64),
        "in_place_reward": np.asarray(in_place_reward, dtype=np.float64),
        "obj_to_target": np.asarray(obj_to_target, dtype=np.float64),
        "unscaled_reward": np.asarray(unscaled_reward, dtype=np.float64),
    }
