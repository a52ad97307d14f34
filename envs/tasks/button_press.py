"""button-press: press a spring-loaded button that faces the robot, pushing it away (+y).

The task of Meta-World's ``button-press-v3`` (Yu et al., 2019) on the
``button`` piece turned a quarter about x, so that its cap faces the robot
and travels ``TRAVEL`` = 5 cm along +y; the housing hangs 11.5 cm above the
table (Meta-World's button height) on a stand and moves with the variation.

Reset: the housing's back at x ∈ [-0.1, 0.1], y ∈ [0.85, 0.9], z = 0.115
(Meta-World's range); the goal is the cap's face when fully pressed (5 cm
further from the robot than at rest). obs[4:7] is the centre of the cap's face.
Reward: the shared press reward (``envs.tasks._button``) along y.
Success: the cap's face within 2 cm of the pressed position along y
(Meta-World's 0.02), i.e. the button pressed at least 3 cm.
"""

from __future__ import annotations

import mujoco
import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._button import TRAVEL, press_evaluate, pressed_position
from envs.tasks._common import CLOSE, HAND, OBJ1, move

SUCCESS_DEPTH = 0.02
HOUSING_HEIGHT = 0.115
#: the cap's face lies this far in front of the housing's back (button.xml: the "top" site at 15 cm)
CAP_REACH = 0.15
#: a quarter turn about x: the piece's +z (towards the cap) becomes -y (towards the robot)
FACING_ROBOT = (np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0)
#: the cap's fully pressed y (5 cm beyond its start) and the initial fingertips-to-cap distance
_initial_terms = pressed_position(axis=1, direction=1.0)


class ButtonPress(PolytaskEnv):
    name = "button-press"
    object_sites = ("button/top",)
    success_description = f"button cap within {SUCCESS_DEPTH * 100:.0f} cm of its fully pressed position (y)"
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.9])
    SUCCESS_DEPTH = SUCCESS_DEPTH
    #: the housing's centre above the table, and the stand's colour and half-width under it (x, z)
    HOUSING_HEIGHT, STAND_RGBA, STAND_HALF = HOUSING_HEIGHT, (0.15, 0.15, 0.17, 1.0), (0.05, 0.04)

    @classmethod
    def build(cls, spec):
        world.attach(spec, "button", "button/", pos=(0.0, 0.9, cls.HOUSING_HEIGHT), quat=FACING_ROBOT)
        # a stand from the housing down to the table, in the housing's turned frame (its -y is down)
        stand_half = (cls.HOUSING_HEIGHT - 0.06) / 2
        half_x, half_z = cls.STAND_HALF
        spec.body("button/box").add_geom(name="button/stand", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half_x, stand_half, half_z],
                                         pos=[0.0, -0.06 - stand_half, half_z], rgba=list(cls.STAND_RGBA))

    def reset_task(self, rng):
        xy = rng.uniform(self.BOX_LOW, self.BOX_HIGH)
        self.set_body_pos("button/box", [xy[0], xy[1], self.HOUSING_HEIGHT])
        self.set_joint("button/press", 0.0)
        self.goal = np.array([xy[0], xy[1] - CAP_REACH + TRAVEL, self.HOUSING_HEIGHT])

    def evaluate(self, obs, action):
        return press_evaluate(obs, self.from_init(_initial_terms), axis=1, success_depth=self.SUCCESS_DEPTH)

    @staticmethod
    def expert(obs):
        hand, cap = obs[HAND], obs[OBJ1]
        # line up 5 cm in front of the cap (x, z) before moving in, so the fingers never catch its rim
        if abs(hand[0] - cap[0]) > 0.01 or abs(hand[2] - cap[2]) > 0.01:
            return move(hand, cap - np.array([0.0, 0.05, 0.0]), CLOSE)
        # aim past the cap: the hand keeps pushing as the button gives way
        return move(hand, cap + np.array([0.0, 0.06, 0.0]), CLOSE)


register_task(ButtonPress)
