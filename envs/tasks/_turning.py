"""What the tasks that turn an arm about a fixed axis share (faucet, dial, door lock).

Each has an arm (the faucet's handle, the dial's ridge, the lock's lever) on a
hinge; obs[4:7] is a point on it at radius ``length`` from the axis, obs[7:11]
its orientation. The goal is that point after a quarter turn. The reward
(Meta-World v2's faucet shape, our code): 4 · a long-tail tolerance of the
fingertips' distance to the point plus 6 · one of the point's distance to the
goal, 10 on success. The expert pushes the arm's side along its arc with the
fingers closed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from envs.rewards import closeness, distance, norm, select
from envs.tasks._common import CLOSE, GOAL, HAND, OBJ1, QUAT1, horizontal_distance, info, move

#: while pushing, the expert aims this far ahead along the arc, and this much nearer the arm's
#: centre line than its standoff: into the arm, so that the push never stalls where the hand's
#: corner (further out than its faces) meets the arm
ARC_LEAD, PRESS_IN = 0.04, 0.01


class Hinge(NamedTuple):
    """An arm turning about the unit vector ``axis`` (right-handed), pointing along ``rest`` at angle 0."""

    axis: np.ndarray
    rest: np.ndarray

    def angle(self, quat: np.ndarray) -> np.ndarray:
        """The turn from rest of an arm whose (w, x, y, z) orientation is ``quat``."""
        return 2.0 * np.arctan2(quat[..., 1:4] @ self.axis, quat[..., 0])

    def radial(self, angle) -> np.ndarray:
        """The unit vector from the axis along the arm turned by ``angle``."""
        return self.rest * np.cos(angle) + np.cross(self.axis, self.rest) * np.sin(angle)

    def tangent(self, angle) -> np.ndarray:
        """The direction the arm's points move in as ``angle`` grows."""
        return np.cross(self.axis, self.radial(angle))


#: about z, pointing at the robot at rest: positive turns are counter-clockwise seen from above
VERTICAL = Hinge(np.array([0.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.0]))


def turned_point(center, length: float, angle: float, hinge: Hinge = VERTICAL) -> np.ndarray:
    """Where the arm's point lies when turned by ``angle`` about ``center``."""
    return np.asarray(center, dtype=np.float64) + length * hinge.radial(angle)


def turning_initial_terms(init_obs):
    """An ``init_obs`` function (for ``PolytaskEnv.from_init``): the point's initial distance to
    the goal and the fingertips' to the point."""
    return norm(init_obs[..., OBJ1] - init_obs[..., GOAL]), norm(init_obs[..., HAND] - init_obs[..., OBJ1])


def turning_evaluate(obs, initial_terms, success_distance: float):
    """Reward and info; ``initial_terms`` is ``self.from_init(turning_initial_terms)``."""
    point = obs[..., OBJ1]
    to_goal_init, hand_init = initial_terms
    to_goal = distance(point, obs[..., GOAL])
    hand_to_point = distance(obs[..., HAND], point)
    reach = closeness(hand_to_point, hand_init, 0.02)
    in_place = closeness(to_goal, to_goal_init, success_distance)
    success = to_goal <= success_distance
    reward = select(success, 10.0, 4.0 * reach + 6.0 * in_place)
    return reward, info(
        success,
        near_object=hand_to_point <= 0.05,
        grasp_success=1.0,
        grasp_reward=reach,
        in_place_reward=in_place,
        obj_to_target=to_goal,
        unscaled_reward=reward,
    )


def turning_expert(obs, length: float, final: float, push_radius: float, standoff: float, below: float = 0.0,
                   hinge: Hinge = VERTICAL):
    """Push the arm round to the angle ``final``.

    The fingertips go to the arm's trailing side at ``push_radius`` from the axis,
    ``standoff`` off its centre line and ``below`` under it (coming down from above),
    then push towards where that contact point would be a little further along the arc.
    """
    hand, point = obs[HAND], obs[OBJ1]
    angle = hinge.angle(obs[QUAT1])
    direction = 1.0 if final > angle else -1.0
    center = point - length * hinge.radial(angle)

    def contact(at, off=standoff):
        return center + push_radius * hinge.radial(at) - off * direction * hinge.tangent(at) - np.array([0.0, 0.0, below])

    here = contact(angle)
    off_contact = horizontal_distance(hand, here)
    if off_contact < 0.02 and abs(hand[2] - here[2]) < 0.015:
        ahead = angle + direction * ARC_LEAD / push_radius
        ahead = min(ahead, final + 0.1) if direction > 0 else max(ahead, final - 0.1)
        return move(hand, contact(ahead, standoff - PRESS_IN), CLOSE)
    if off_contact < 0.015:
        return move(hand, here, CLOSE)
    return move(hand, here + np.array([0.0, 0.0, 0.06]), CLOSE)
