"""Carrying a held object over a rim (of a hole, a bin, a box), and the board with a hole.

Meta-World's hand-insert and pick-out-of-hole use a table with a hole in it;
ours is a 5 cm board with an 11 cm square hole (``board_with_hole`` piece),
standing on the shared table. A held object crosses a rim only above it.
"""

from __future__ import annotations

import numpy as np

from envs.tasks._common import GOAL, HAND, OBJ1, horizontal_distance

BOARD_TOP = 0.05
#: a held object's centre crosses the rim at least this high
CLEAR_HEIGHT = BOARD_TOP + 0.045
#: the grip action of open fingers that must fit in a hole or a bin (``grasp_action``'s ``opening``):
#: 6.8 cm between the pads, 9.2 cm across their outsides, against 11.6 cm fully open
PART_OPEN = -0.4


def carry_over_the_rim(obs, clear_height: float = CLEAR_HEIGHT) -> np.ndarray:
    """The hand target that takes a held object to the goal without dragging it across the rim:
    straight up to ``clear_height`` (the object's centre) first where it is low, across at or above that height, then
    (over the goal) straight to it."""
    hand, obj, goal = obs[HAND], obs[OBJ1], obs[GOAL]
    if horizontal_distance(obj, goal) <= 0.01:
        target = goal
    elif obj[2] < clear_height - 0.01:
        target = np.array([obj[0], obj[1], clear_height + 0.01])
    else:
        target = np.array([goal[0], goal[1], max(clear_height, goal[2])])
    return hand + (target - obj)
