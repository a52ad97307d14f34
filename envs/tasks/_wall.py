"""The wall of the ``*-wall`` tasks and how the experts get past it.

Meta-World's reach-wall, push-wall and pick-place-wall (Yu et al., 2019)
stand a fixed wall between the start and the goal: centred at x = 0.1,
y = 0.75 on the table, 24 cm long, 2 cm thick, 12 cm high, so it covers
x ∈ [-0.02, 0.22] and the goals (x ∈ [-0.05, 0.05]) lie partly behind it.
The wall never moves, so an expert may know where it is without seeing it.
"""

from __future__ import annotations

import numpy as np

from envs import world

WALL_CENTER = np.array([0.1, 0.75])
WALL_HALF_LENGTH, WALL_HALF_THICKNESS, WALL_HEIGHT = 0.12, 0.01, 0.12
#: how far from the wall's faces and top an expert's hand (or held object) keeps
CLEARANCE = 0.04
#: the palm reaches this far to either side (x) of the fingertips (gripper.xml), 8 cm above them:
#: below the wall's top, the hand passes its end only this much further out
PALM_HALF_LENGTH = 0.065


def attach_wall(spec) -> None:
    world.attach(spec, "wall", "wall/", pos=(WALL_CENTER[0], WALL_CENTER[1], 0.0))


class BehindAWall:
    """Mixin before a task class: its world with the wall added, and the object's start range
    that Meta-World's three wall tasks share (x ∈ [-0.05, 0.05], y ∈ [0.6, 0.65])."""

    OBJ_LOW, OBJ_HIGH = np.array([-0.05, 0.6]), np.array([0.05, 0.65])

    @classmethod
    def build(cls, spec):
        super().build(spec)
        attach_wall(spec)


def before_wall(point) -> bool:
    """Whether ``point`` (x, y, ...) is on the robot's side of the wall, not yet past it with clearance."""
    return point[1] < WALL_CENTER[1] + WALL_HALF_THICKNESS + CLEARANCE


def over_the_wall(hand, target, lift: float = 0.0) -> np.ndarray:
    """The hand target that brings a hand (holding something ``lift`` below it, or nothing) from the
    robot's side to ``target`` past the wall: first up to clear its top, then across at that
    height, then straight to ``target``."""
    height = WALL_HEIGHT + CLEARANCE + lift
    if before_wall(hand):
        if hand[2] < height - 0.01:
            return np.array([hand[0], min(hand[1], WALL_CENTER[1] - WALL_HALF_THICKNESS - CLEARANCE), height + 0.01])
        return np.array([target[0], WALL_CENTER[1] + WALL_HALF_THICKNESS + CLEARANCE + 0.01, max(height, hand[2])])
    return np.asarray(target, dtype=np.float64)


def around_the_wall(point, target) -> np.ndarray:
    """Where to send something at ``point`` on the table so that it reaches ``target`` past the wall
    around its left end (-x): to a waypoint beside that end first, then to ``target``."""
    left = WALL_CENTER[0] - WALL_HALF_LENGTH - PALM_HALF_LENGTH - CLEARANCE / 2
    if before_wall(point) and point[0] > left + 0.01:
        return np.array([left - 0.01, min(point[1], WALL_CENTER[1] - WALL_HALF_THICKNESS - CLEARANCE), point[2]])
    if before_wall(point):
        return np.array([left - 0.01, WALL_CENTER[1] + WALL_HALF_THICKNESS + CLEARANCE + 0.02, point[2]])
    return np.asarray(target, dtype=np.float64)
