"""What the handle tasks share: the ``handle`` piece, its reset, reward and experts.

The ``handle`` piece (``envs/assets/objects/handle.xml``) is a housing with
an arm on a vertical slide that travels ``TRAVEL`` = 10 cm, and a grip post
at the arm's end. The press tasks start it up and push the post's top down;
the pull tasks start it down and lift the post held between the fingers.
The front tasks face the arm towards the robot (-y); the side tasks turn it
a quarter about z to point across the table (+x) from a housing on the left.

Reward (Meta-World v2's shape for these tasks, our code): 10 · hamacher(hand
at the post, the post's height near the goal's), where "at the post" is a
long-tail tolerance of the fingertips' distance to the post's top (press) or
to its middle with the fingers closed on it (pull); 10 on success.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.rewards import clip, closeness, distance, hamacher_product, norm, select
from envs.tasks._common import CLOSE, GOAL, GRIPPER, HAND, OBJ1, OPEN, component, horizontal_distance, info, move

#: how far the slide travels (handle.xml)
TRAVEL = 0.1
#: the grip site (the post's top) relative to the housing, turned with it, at the slide's top
GRIP_REACH, GRIP_HEIGHT = 0.2, 0.172
#: the fingertips hold the post this far below its top (its 6 cm span mid-pad, the pads clear of the arm)
HOLD_DEPTH = 0.035
HOLD_BELOW_TOP = np.array([0.0, 0.0, HOLD_DEPTH])
#: gripper opening (obs[3]) of fingers closed on the 3 cm post
HOLD_OPENING = 0.25
#: a quarter turn about z: the piece's -y (the arm) becomes +x
POINTING_RIGHT = (np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5))


def _initial_terms(reach_offset: np.ndarray):
    """An ``init_obs`` function: the goal's height, the post top's initial height difference to it,
    and the fingertips' initial distance to the point they reach for (the post's top less
    ``reach_offset``)."""

    def terms(init_obs):
        top, goal_z = init_obs[..., OBJ1], component(init_obs[..., GOAL], 2)
        return goal_z, abs(component(top, 2) - goal_z), norm(init_obs[..., HAND] - (top - reach_offset))

    return terms


_PRESS_INITIAL, _PULL_INITIAL = _initial_terms(np.zeros(3)), _initial_terms(HOLD_BELOW_TOP)


class HandleTask(PolytaskEnv):
    """A handle task: set ``PULL`` (start down, lift) or not (start up, press), ``SIDE``
    (the housing on the left, the arm pointing +x) or not (behind, the arm towards the robot),
    the housing's range and the success radius (the post top's height to the goal's)."""

    object_sites = ("handle/grip",)
    PULL, SIDE = False, False
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])
    SUCCESS_RADIUS = 0.02

    @classmethod
    def build(cls, spec):
        world.attach(spec, "handle", "handle/", quat=POINTING_RIGHT if cls.SIDE else (1.0, 0.0, 0.0, 0.0))

    def reset_task(self, rng):
        xy = rng.uniform(self.BOX_LOW, self.BOX_HIGH)
        self.set_body_pos("handle/box", [xy[0], xy[1], 0.0])
        self.set_joint("handle/slide", -TRAVEL if self.PULL else 0.0)
        reach = np.array([GRIP_REACH, 0.0]) if self.SIDE else np.array([0.0, -GRIP_REACH])
        self.goal = np.array([*(xy + reach), GRIP_HEIGHT if self.PULL else GRIP_HEIGHT - TRAVEL])

    def evaluate(self, obs, action):
        grip = obs[..., OBJ1]
        if self.PULL:
            target_z, to_target_init, hand_init = self.from_init(_PULL_INITIAL)
            hand_to_grip = distance(obs[..., HAND], grip - HOLD_BELOW_TOP)
            closed = clip((1.0 - component(obs, GRIPPER)) / (1.0 - HOLD_OPENING), 0.0, 1.0)
            at_grip = hamacher_product(closeness(hand_to_grip, hand_init, 0.02), closed)
        else:
            target_z, to_target_init, hand_init = self.from_init(_PRESS_INITIAL)
            hand_to_grip = distance(obs[..., HAND], grip)
            at_grip = closeness(hand_to_grip, hand_init, 0.02)
        to_target = abs(component(grip, 2) - target_z)
        in_place = closeness(to_target, to_target_init, self.SUCCESS_RADIUS)
        success = to_target <= self.SUCCESS_RADIUS
        reward = select(success, 10.0, 10.0 * hamacher_product(at_grip, in_place))
        return reward, info(
            success,
            near_object=hand_to_grip <= 0.05,
            grasp_success=(hand_to_grip <= 0.02) & (component(obs, GRIPPER) <= HOLD_OPENING) if self.PULL else 1.0,
            grasp_reward=at_grip,
            in_place_reward=in_place,
            obj_to_target=to_target,
            unscaled_reward=reward,
        )


def press_expert(obs):
    """Line up 3 cm above the post's top, then push down past the goal with the fingers closed."""
    hand, grip = obs[HAND], obs[OBJ1]
    if horizontal_distance(hand, grip) > 0.01:
        return move(hand, grip + np.array([0.0, 0.0, 0.03]), CLOSE)
    return move(hand, grip - np.array([0.0, 0.0, 0.06]), CLOSE)


def pull_expert(obs):
    """Come down open around the post, close on it, and lift it past the goal."""
    hand, grip = obs[HAND], obs[OBJ1]
    hold = grip - HOLD_BELOW_TOP
    error = np.linalg.norm(hand - hold)
    if error < 0.015 and obs[GRIPPER] < HOLD_OPENING + 0.1:
        return move(hand, hold + np.array([0.0, 0.0, 0.06]), CLOSE)
    if error < 0.01:
        return move(hand, hold, CLOSE)
    if horizontal_distance(hand, grip) < 0.01:
        return move(hand, hold, OPEN)
    return move(hand, grip + np.array([0.0, 0.0, 0.04]), OPEN)
