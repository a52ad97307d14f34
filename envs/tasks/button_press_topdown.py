"""button-press-topdown: press a spring-loaded button straight down from above.

The task of Meta-World's ``button-press-topdown`` (Yu et al., 2019), rebuilt
on the ``button`` piece and the shared press reward (``envs.tasks._button``):
a housing on the table with a mushroom button that travels ``TRAVEL`` = 5 cm
down against a spring.

Reset: the button box at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9] (Meta-World's
range); the goal is the cap's top when fully pressed (5 cm below its rest
height). obs[4:7] is the centre of the cap's top face.
Reward (Meta-World v2's shape, our code): 5 · hamacher(fingers closed, hand
near the cap) plus, once the fingertips are within 3 cm of the cap, 5 · a
long-tail tolerance of the cap's remaining depth to the goal (1 within 5 mm).
Success: the cap's top within 2.4 cm of the pressed depth along z
(Meta-World's 0.024), i.e. the button pressed at least 2.6 cm.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._button import TRAVEL, press_evaluate, pressed_position
from envs.tasks._common import CLOSE, HAND, OBJ1, horizontal_distance, move

SUCCESS_DEPTH = 0.024
#: the cap's fully pressed height (5 cm below its start) and the initial fingertips-to-cap distance
_initial_terms = pressed_position(axis=2, direction=-1.0)


class ButtonPressTopdown(PolytaskEnv):
    name = "button-press-topdown"
    object_sites = ("button/top",)
    success_description = f"button cap within {SUCCESS_DEPTH * 100:.1f} cm of its fully pressed depth (z)"
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "button", "button/")

    def reset_task(self, rng):
        xy = rng.uniform(self.BOX_LOW, self.BOX_HIGH)
        self.set_body_pos("button/box", [xy[0], xy[1], 0.0])
        self.set_joint("button/press", 0.0)
        rest_top = np.array([xy[0], xy[1], self.model.site_pos[self.model.site("button/top").id][2]])
        self.goal = rest_top - np.array([0.0, 0.0, TRAVEL])

    def evaluate(self, obs, action):
        return press_evaluate(obs, self.from_init(_initial_terms), axis=2, success_depth=SUCCESS_DEPTH)

    @staticmethod
    def expert(obs):
        hand, cap = obs[HAND], obs[OBJ1]
        if horizontal_distance(hand, cap) > 0.01:
            # line up 4 cm above the cap before coming down, so the fingers never land on its rim
            return move(hand, cap + np.array([0.0, 0.0, 0.04]), CLOSE)
        # aim below the cap: the hand keeps pushing as the button gives way
        return move(hand, cap - np.array([0.0, 0.0, 0.06]), CLOSE)


register_task(ButtonPressTopdown)
