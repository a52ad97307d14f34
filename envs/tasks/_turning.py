"""What the tasks that turn something about a vertical axis share (faucet, dial).

Each has an arm (the faucet's handle, the dial's ridge) that points towards the
robot (-y) at rest and turns about z; obs[4:7] is a point on it at radius
``length`` from the axis, obs[7:11] its orientation. The goal is that point
after a quarter turn. The reward (Meta-World v2's faucet shape, our code):
4 · a long-tail tolerance of the fingertips' distance to the point plus 6 ·
one of the point's distance to the goal, 10 on success. The expert pushes the
arm's side along its arc with the fingers closed.
"""

from __future__ import annotations

import numpy as np

from envs.rewards import closeness, distance, norm, select
from envs.tasks._common import CLOSE, GOAL, HAND, OBJ1, QUAT1, horizontal_distance, info, move

#: while pushing, the expert aims this far ahead along the arc, and this much nearer the arm's
#: centre line than its standoff: into the arm, so that the push never stalls where the hand's
#: corner (further out than its faces) meets the arm
ARC_LEAD, PRESS_IN = 0.04, 0.01


def turn_angle(quat: np.ndarray) -> np.ndarray:
    """The turn about z, counter-clockwise seen from above, from a (w, x, y, z) quaternion."""
    return 2.0 * np.arctan2(quat[..., 3], quat[..., 0])


def pointing(angle) -> np.ndarray:
    """The unit vector (x, y, 0) of an arm turned ``angle`` from pointing at the robot (-y)."""
    return np.array([np.sin(angle), -np.cos(angle), 0.0])


def quarter_turn_goal(axis, length: float, direction: float) -> np.ndarray:
    """The arm's point after a quarter turn (``direction`` +1 counter-clockwise, -1 clockwise)."""
    return np.asarray(axis, dtype=np.float64) + length * pointing(direction * np.pi / 2)


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


def turning_expert(obs, length: float, direction: float, push_radius: float, standoff: float, below: float):
    """Push the arm round by a quarter turn in ``direction`` (+1 counter-clockwise).

    The fingertips go to the arm's trailing side at ``push_radius`` from the axis,
    ``standoff`` off its centre line and ``below`` under the observed point's height
    (coming down from above), then push towards where that contact point would be a
    little further along the arc.
    """
    hand, point = obs[HAND], obs[OBJ1]
    angle = turn_angle(obs[QUAT1])
    axis = point - length * pointing(angle)

    def contact(at, off=standoff):
        tangent = direction * np.array([np.cos(at), np.sin(at), 0.0])
        return axis + push_radius * pointing(at) - off * tangent - np.array([0.0, 0.0, below])

    here = contact(angle)
    if horizontal_distance(hand, here) < 0.02 and abs(hand[2] - here[2]) < 0.015:
        final = direction * np.pi / 2
        ahead = angle + direction * ARC_LEAD / push_radius
        ahead = min(ahead, final + 0.1) if direction > 0 else max(ahead, final - 0.1)
        return move(hand, contact(ahead, standoff - PRESS_IN), CLOSE)
    if horizontal_distance(hand, here) < 0.015:
        return move(hand, here, CLOSE)
    return move(hand, here + np.array([0.0, 0.0, 0.06]), CLOSE)

