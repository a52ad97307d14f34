"""button-press-topdown: press a spring-loaded button straight down from above.

The task of Meta-World's ``button-press-topdown`` (Yu et al., 2019), rebuilt
on the ``button`` piece: a housing on the table with a mushroom button that
travels ``TRAVEL`` = 5 cm down against a spring.

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
from envs.rewards import closeness, distance, hamacher_product, norm, select
from envs.tasks._common import CLOSE, GRIPPER, HAND, OBJ1, component, horizontal_distance, info, move

#: how far the button travels down to the end of its joint range (button.xml)
TRAVEL = 0.05
SUCCESS_DEPTH = 0.024
#: the press term counts only while the fingertips touch the cap
PRESS_CONTACT_DISTANCE = 0.03


def _initial_terms(init_obs):
    """The cap's fully pressed height and the initial fingertips-to-cap distance."""
    return component(init_obs[..., OBJ1], 2) - TRAVEL, norm(init_obs[..., HAND] - init_obs[..., OBJ1])


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
        cap = obs[..., OBJ1]
        pressed_height, hand_to_cap_init = self.from_init(_initial_terms)
        hand_to_cap = distance(obs[..., HAND], cap)
        depth_to_goal = abs(component(cap, 2) - pressed_height)

        fingers_closed = 1.0 - component(obs, GRIPPER)
        near_cap = closeness(hand_to_cap, hand_to_cap_init, 0.01)
        pressed = closeness(depth_to_goal, TRAVEL, 0.005)
        touching = hand_to_cap <= PRESS_CONTACT_DISTANCE
        reward = 5.0 * hamacher_product(fingers_closed, near_cap) + 5.0 * select(touching, pressed, 0.0)
        success = depth_to_goal <= SUCCESS_DEPTH
        return reward, info(
            success,
            near_object=hand_to_cap <= 0.05,
            grasp_success=component(obs, GRIPPER) > 0,
            grasp_reward=near_cap,
            in_place_reward=pressed,
            obj_to_target=depth_to_goal,
            unscaled_reward=reward,
        )

    @staticmethod
    def expert(obs):
        hand, cap = obs[HAND], obs[OBJ1]
        if horizontal_distance(hand, cap) > 0.01:
            # line up 4 cm above the cap before coming down, so the fingers never land on its rim
            return move(hand, cap + np.array([0.0, 0.0, 0.04]), CLOSE)
        # aim below the cap: the hand keeps pushing as the button gives way
        return move(hand, cap - np.array([0.0, 0.0, 0.06]), CLOSE)


register_task(ButtonPressTopdown)
