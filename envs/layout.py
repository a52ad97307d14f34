"""The observation and action layout, named once: every module that reads or writes an
observation (the single env, the batched simulator, the frame gathering, the
tasks' rewards and experts) takes its slices from here.

Meta-World's layout (Yu et al., 2019; its v2/v3 ``_get_obs``), 39 numbers:

====================  ==========================================================
``FRAME`` (0:18)      the current frame: ``HAND`` xyz (0:3), ``GRIPPER`` opening
                      (3), object 1 xyz + quaternion w, x, y, z (4:11), object 2
                      likewise (11:18; zeros when the task has none)
``PREVIOUS`` (18:36)  the previous frame, laid out as ``FRAME``
``GOAL`` (36:39)      goal xyz (zeros when the goal is hidden)
====================  ==========================================================

Positions and quaternions of an object ``k`` start at ``object_start(k)``.
The declared bounds (``OBS_LOW``, ``OBS_HIGH``) are true: the hand is held
by its joint limits, loose objects by an invisible box around the table.
"""

from __future__ import annotations

import numpy as np

OBS_DIM = 39
FRAME_DIM = 18
#: the action: hand displacement dx, dy, dz (``ACTION_HAND``) and gripper effort (``ACTION_GRIP``)
ACTION_DIM = 4
ACTION_HAND = slice(0, 3)
ACTION_GRIP = 3
#: objects whose pose an observation carries
MAX_OBJECTS = 2

HAND = slice(0, 3)
GRIPPER = 3
FRAME = slice(0, FRAME_DIM)
PREVIOUS = slice(FRAME_DIM, 2 * FRAME_DIM)
GOAL = slice(2 * FRAME_DIM, OBS_DIM)


def object_start(k: int) -> int:
    """Where object ``k``'s xyz (then its quaternion) starts in a frame."""
    if not 0 <= k < MAX_OBJECTS:
        raise ValueError(f"an observation holds objects 0 and 1, got {k}")
    return 4 + 7 * k


OBJ1 = slice(object_start(0), object_start(0) + 3)
QUAT1 = slice(object_start(0) + 3, object_start(0) + 7)
OBJ2 = slice(object_start(1), object_start(1) + 3)
QUAT2 = slice(object_start(1) + 3, object_start(1) + 7)

#: frame columns holding positions (hand, object 1, object 2), in that order
POSITION_COLUMNS = np.r_[HAND, OBJ1, OBJ2]
#: frame columns holding the two objects' quaternions
QUAT_COLUMNS = np.r_[QUAT1, QUAT2]


def object_columns(k: int) -> slice:
    """Frame columns of object ``k``'s whole pose (xyz and quaternion)."""
    start = object_start(k)
    return slice(start, start + 7)


def observation(frame: np.ndarray, previous_frame: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The observation of a frame, the frame before it and the goal (over leading batch axes)."""
    return np.concatenate((frame, previous_frame, goal), axis=-1)


def hide_goal(obs: np.ndarray) -> None:
    """Zero the goal of observations in place (what an agent sees with the goal hidden)."""
    obs[..., GOAL] = 0.0


# Declared bounds. Hand: its joint ranges plus a margin for soft limits. Objects
# and goals: the invisible bounding box plus the reach of a handle site beyond an
# object's centre. Zeros (an absent object, a hidden goal) lie inside.
HAND_LOW = np.array([-0.55, 0.30, -0.05])
HAND_HIGH = np.array([0.55, 1.05, 0.50])
POS_LOW = np.array([-0.80, 0.00, -0.20])
POS_HIGH = np.array([0.80, 1.30, 1.00])


def _frame_bounds() -> tuple[np.ndarray, np.ndarray]:
    low, high = np.empty(FRAME_DIM), np.empty(FRAME_DIM)
    low[HAND], high[HAND] = HAND_LOW, HAND_HIGH
    low[GRIPPER], high[GRIPPER] = 0.0, 1.0
    for k in range(MAX_OBJECTS):
        start = object_start(k)
        low[start : start + 3], high[start : start + 3] = POS_LOW, POS_HIGH
        low[start + 3 : start + 7], high[start + 3 : start + 7] = -1.0, 1.0
    return low, high


_FRAME_LOW, _FRAME_HIGH = _frame_bounds()
OBS_LOW = observation(_FRAME_LOW, _FRAME_LOW, POS_LOW)
OBS_HIGH = observation(_FRAME_HIGH, _FRAME_HIGH, POS_HIGH)
