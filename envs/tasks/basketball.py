"""basketball: grasp a ball, carry it over the hoop on a backboard and drop it through.

Meta-World's basketball (Yu et al., 2019, CoRL, "Meta-World", its v2 reward
``sawyer_basketball``) in our world, built from primitives.

Reset: the ball (radius 3 cm) rests on the table at x ∈ [-0.1, 0.1],
y ∈ [0.6, 0.7]; the hoop's pole stands at x ∈ [-0.1, 0.1], y ∈ [0.85, 0.9],
the ball redrawn until it is at least 17 cm before the pole (in y), so the
hand reaching down at it stays clear of the rim. The rim (4 cm clear radius)
is 8.3 cm in front of the board, 25 cm above the table; the goal is the
rim's centre. obs[4:7] is the ball, obs[11:14] the rim's centre.
Success: the ball's centre within 8 cm of the rim's centre, the height
difference weighted 2 (Meta-World's threshold and weights): the ball is in the
rim, or dropping into it from just above.
Reward (Meta-World v2's shape): in_place = long-tail tolerance of that
weighted distance (margin: its initial value); grasp = how well the hand
cages the ball; reward = hamacher(grasp, in_place), plus 1 + 5 · in_place
while the ball is held off the table; 10 on success.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import distance
from envs.tasks._common import CLOSE, GRIPPER, HAND, OBJ1, OBJ2, OPEN, component, horizontal_distance, move
from envs.tasks.peg_insert_side import carry_result, scaled_distance, scaled_in_place, scaled_margin

SUCCESS_DISTANCE = 0.08
#: weights of (x, y, z) in the ball-to-rim distance
AXIS_SCALE = np.array([1.0, 1.0, 2.0])
BALL_RADIUS = 0.03
#: the fingertips close this far below the ball's centre, so the pads cover its equator
GRASP_BELOW_CENTRE = 0.01
_GRASP_OFFSET = np.array([0.0, 0.0, GRASP_BELOW_CENTRE])
#: gripper openings while the fingers hold the 6 cm ball (open is 1, empty-closed 0)
HOLD_OPENING = (0.4, 0.8)
#: the ball is let go with its centre this far above the rim: the pads then clear the rim
DROP_HEIGHT = 0.055


def ball_held(obs: np.ndarray, hand_to_grasp=None) -> np.ndarray:
    """Fingertips at the ball's grasp point, fingers on the ball, ball off the table.

    ``hand_to_grasp`` is the fingertips' distance to the grasp point where the caller has it.
    """
    if hand_to_grasp is None:
        hand_to_grasp = distance(obs[..., HAND], obs[..., OBJ1] - _GRASP_OFFSET)
    near = hand_to_grasp < 0.025
    on_ball = (component(obs, GRIPPER) > HOLD_OPENING[0]) & (component(obs, GRIPPER) < HOLD_OPENING[1])
    lifted = component(obs[..., OBJ1], 2) > BALL_RADIUS + 0.01
    return near & on_ball & lifted


def _in_place_margin(init_obs):
    return scaled_margin(scaled_distance(init_obs[..., OBJ1], init_obs[..., OBJ2], AXIS_SCALE))


class Basketball(PolytaskEnv):
    name = "basketball"
    object_sites = ("ball/ball", "hoop/goal")
    success_description = (
        f"ball centre within {SUCCESS_DISTANCE * 100:.0f} cm of the rim's centre (height difference weighted 2)"
    )
    BALL_LOW, BALL_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    HOOP_LOW, HOOP_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.9])
    #: the ball starts at least this far (in y) before the pole, so the hand reaching down at it
    #: (palm 1.8 cm, wrist 2 cm deep) stays clear of the rim, whose front edge is 13.9 cm before the pole
    MIN_BALL_BEFORE_POLE = 0.17

    @classmethod
    def build(cls, spec):
        world.attach(spec, "ball", "ball/")
        world.attach(spec, "hoop", "hoop/")

    def reset_task(self, rng):
        ball = rng.uniform(self.BALL_LOW, self.BALL_HIGH)
        hoop = rng.uniform(self.HOOP_LOW, self.HOOP_HIGH)
        while hoop[1] - ball[1] < self.MIN_BALL_BEFORE_POLE:
            ball = rng.uniform(self.BALL_LOW, self.BALL_HIGH)
        self.set_free_pose("ball/ball", [ball[0], ball[1], BALL_RADIUS])
        self.set_body_pos("hoop/hoop", [hoop[0], hoop[1], 0.0])
        self.goal = np.array([hoop[0], hoop[1] - 0.083, 0.25])

    def evaluate(self, obs, action):
        # the goal from the rim's pose (obs[11:14]) so the reward holds when the goal is hidden
        ball_to_goal, in_place = scaled_in_place(
            obs[..., OBJ1], obs[..., OBJ2], self.from_init(_in_place_margin), AXIS_SCALE, SUCCESS_DISTANCE
        )
        hand_to_grasp = distance(obs[..., HAND], obs[..., OBJ1] - _GRASP_OFFSET)
        held = ball_held(obs, hand_to_grasp)
        return carry_result(obs, hand_to_grasp, held, BALL_RADIUS, ball_to_goal, in_place, SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        """Grasp the ball, lift it, carry it over the rim, let go.

        Phases from positions alone: holding the ball -> rise above the rim's
        height, then over the rim, then open; just let go near the rim ->
        rise clear of it and back away; away from the ball -> hover above it,
        open; above it -> descend, open; down at it -> close.
        """
        hand, ball, rim = obs[HAND], obs[OBJ1], obs[OBJ2]
        grasp = ball - _GRASP_OFFSET
        closed_on_ball = np.linalg.norm(hand - grasp) < 0.015 and obs[GRIPPER] < HOLD_OPENING[1]
        if ball_held(obs) or closed_on_ball:
            release = rim + np.array([0.0, 0.0, DROP_HEIGHT])
            if horizontal_distance(ball, rim) < 0.008 and abs(ball[2] - release[2]) < 0.015:
                return move(hand, hand, OPEN)
            if ball[2] < release[2] - 0.02 and horizontal_distance(ball, rim) > 0.03:
                # rise first, so the ball never meets the rim from below or the side
                return move(hand, [hand[0], hand[1], hand[2] + release[2] - ball[2]], CLOSE)
            return move(hand, hand + release - ball, CLOSE)
        if horizontal_distance(hand, rim) < 0.12 and hand[2] > rim[2] - 0.1 and horizontal_distance(ball, rim) > 0.1:
            # just dropped a shot: rise clear of the rim, then back away towards the robot before going after the ball
            clear = hand[2] > rim[2] + 0.05
            return move(hand, [hand[0], rim[1] - 0.2 if clear else hand[1], rim[2] + 0.1], OPEN)
        if horizontal_distance(hand, grasp) > 0.012:
            return move(hand, [grasp[0], grasp[1], max(ball[2] + 0.08, min(hand[2], 0.15))], OPEN)
        if hand[2] - grasp[2] > 0.005 and obs[GRIPPER] > 0.85:
            return move(hand, grasp, OPEN)
        return move(hand, grasp, CLOSE)


register_task(Basketball)
