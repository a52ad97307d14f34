"""lever-pull: rotate a lever from horizontal up to vertical.

The task of Meta-World's ``lever-pull`` (Yu et al., 2019) on the ``lever``
piece: a 20 cm lever on a hinge 15 cm above the table, resting horizontal and
pointing towards the robot. Meta-World's Sawyer lifts it with its shoulder;
our floating gripper holds the ball knob at its end (the knob turns freely
between the fingers) and carries it along the arc.

Reset: the hinge at x ∈ [-0.1, 0.1], y ∈ [0.85, 0.95]; the goal is the knob's
position with the lever pointing straight up (20 cm above the hinge).
obs[4:7] is the knob's centre, obs[7:11] the lever's orientation.
Reward: 2 · hamacher(hand near the knob, fingers closed on it) + 8 · a long-tail
tolerance of the knob's distance to the up position (1 within the success
distance, margin its initial distance).
Success: Meta-World tests the lever angle within π/24 (7.5°) of vertical; we
test the knob within the chord of that angle, 2 · 0.2 · sin(π/48) ≈ 2.6 cm,
of the up position.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import clip, closeness, distance, hamacher_product, norm
from envs.tasks._common import CLOSE, GRIPPER, HAND, OBJ1, OPEN, QUAT1, component, horizontal_distance, info, move

#: hinge-to-knob length of the lever (lever.xml)
LEVER_LENGTH = 0.2
SUCCESS_DISTANCE = 2 * LEVER_LENGTH * np.sin(np.pi / 48)
#: the expert holds the knob this far above its fingertips, mid-pad rather than at the pads' lower edge
GRASP_HEIGHT = 0.02
#: gripper opening (obs[3]) of fingers closed on the 3 cm knob
HOLD_OPENING = 0.25
#: how far ahead along the arc (radians) the expert aims while carrying the knob
ARC_LEAD = 0.35


def lever_angle(quat: np.ndarray) -> np.ndarray:
    """The lever's rotation above horizontal from its (w, x, y, z) quaternion about -x."""
    return 2.0 * np.arctan2(-quat[..., 1], quat[..., 0])


def _initial_terms(init_obs):
    """The knob's up position and the initial knob-to-up and fingertips-to-knob distances."""
    init_knob = init_obs[..., OBJ1]
    # the lever starts horizontal, so its up position is one length back and one up
    up = init_knob + np.array([0.0, LEVER_LENGTH, LEVER_LENGTH])
    return up, norm(init_knob - up), norm(init_obs[..., HAND] - init_knob)


class LeverPull(PolytaskEnv):
    name = "lever-pull"
    object_sites = ("lever/end",)
    success_description = (
        f"lever knob within {SUCCESS_DISTANCE * 100:.1f} cm of its straight-up position "
        "(7.5 deg of rotation, Meta-World's pi/24)"
    )
    HINGE_LOW, HINGE_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.95])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "lever", "lever/")

    def reset_task(self, rng):
        xy = rng.uniform(self.HINGE_LOW, self.HINGE_HIGH)
        self.set_body_pos("lever/base", [xy[0], xy[1], 0.0])
        self.set_joint("lever/hinge", 0.0)
        hinge_height = self.model.body_pos[self.model.body("lever/lever").id][2]
        self.goal = np.array([xy[0], xy[1], hinge_height + LEVER_LENGTH])

    def evaluate(self, obs, action):
        knob = obs[..., OBJ1]
        up, knob_to_up_init, hand_to_knob_init = self.from_init(_initial_terms)
        knob_to_up = distance(knob, up)
        hand_to_knob = distance(obs[..., HAND], knob)

        near_knob = closeness(hand_to_knob, hand_to_knob_init, 0.03)
        fingers_closed = clip((1.0 - component(obs, GRIPPER)) / (1.0 - HOLD_OPENING), 0.0, 1.0)
        holding = hamacher_product(near_knob, fingers_closed)
        raised = closeness(knob_to_up, knob_to_up_init, SUCCESS_DISTANCE)
        reward = 2.0 * holding + 8.0 * raised
        success = knob_to_up <= SUCCESS_DISTANCE
        return reward, info(
            success,
            near_object=hand_to_knob <= 0.05,
            grasp_success=(hand_to_knob <= 0.03) & (component(obs, GRIPPER) <= HOLD_OPENING),
            grasp_reward=holding,
            in_place_reward=raised,
            obj_to_target=knob_to_up,
            unscaled_reward=reward,
        )

    @staticmethod
    def expert(obs):
        hand, knob = obs[HAND], obs[OBJ1]
        lift = np.array([0.0, 0.0, GRASP_HEIGHT])
        angle = lever_angle(obs[QUAT1])
        hinge = knob - LEVER_LENGTH * np.array([0.0, -np.cos(angle), np.sin(angle)])
        grip_error = np.linalg.norm(hand + lift - knob)
        if grip_error < 0.02 and obs[GRIPPER] < 0.4:
            # holding: aim a little further along the arc, never past vertical
            ahead = min(angle + ARC_LEAD, np.pi / 2)
            on_arc = hinge + LEVER_LENGTH * np.array([0.0, -np.cos(ahead), np.sin(ahead)])
            return move(hand, on_arc - lift, CLOSE)
        if grip_error < 0.01:
            return move(hand, knob - lift, CLOSE)
        if horizontal_distance(hand, knob) < 0.01:
            return move(hand, knob - lift, OPEN)
        return move(hand, knob + np.array([0.0, 0.0, 0.06]), OPEN)


register_task(LeverPull)
