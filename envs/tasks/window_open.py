"""window-open: slide a window's sash open by pushing its handle sideways.

The task of Meta-World's ``window-open`` (Yu et al., 2019) on the ``window``
piece: a frame standing on the table with a sash that slides ``SLIDE`` =
20 cm along +x. This module also holds :class:`WindowSlide`, the logic that
``window-close`` shares (it pushes the same handle the other way).

Reset: the frame at x ∈ [-0.1, 0.1] (Meta-World's range), y ∈ [0.8, 0.95]
(Meta-World's [0.7, 0.9] moved back so the hand does not start beside the
handle), the sash shut; the goal is the handle's position when fully open
(20 cm along +x). obs[4:7] is the handle's centre.
Reward (Meta-World v2's shape, our code): 10 · hamacher(reach, in_place),
where reach is a long-tail tolerance of the fingertips-to-handle distance
(1 within 4 cm, where the fingers touch the bar) and in_place a long-tail
tolerance of the handle's distance to the goal along x (1 within 5 cm), each
with its initial value as margin.
Success: the handle within 5 cm of the goal along x (Meta-World's 0.05).
"""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import closeness, distance, hamacher_product, norm
from envs.tasks._common import CLOSE, GOAL, HAND, OBJ1, component, info, move

#: how far the sash slides (the joint range in window.xml)
SLIDE = 0.2
SUCCESS_DISTANCE = 0.05
#: fingertips-to-handle distance at which the closed fingers touch the bar
TOUCH_DISTANCE = 0.04
#: the expert pushes with the finger pads, fingertips level with the handle's centre (lower,
#: the palm would catch the bar's top) and this far to its side (pad face 4 mm from the bar)
CONTACT_SIDE = 0.03
#: in front of the handle (towards the robot) the hand may move sideways freely
STANDOFF = 0.08


class WindowSlide(PolytaskEnv):
    """Push the sash's handle along x by ``SLIDE``; subclasses choose the direction."""

    object_sites = ("window/handle",)
    #: +1 pushes the sash open (+x), -1 pushes it shut (-x)
    direction: ClassVar[float] = 1.0
    FRAME_LOW, FRAME_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.95])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "window", "window/")

    def reset_task(self, rng):
        xy = rng.uniform(self.FRAME_LOW, self.FRAME_HIGH)
        self.set_body_pos("window/frame", [xy[0], xy[1], 0.0])
        # opening starts shut, closing starts fully open
        self.set_joint("window/slide", 0.0 if self.direction > 0 else SLIDE)
        # the handle's start depends on the frame pose just set: refresh kinematics
        mujoco.mj_kinematics(self.model, self.data)
        self.goal = self.site_pos("window/handle") + np.array([self.direction * SLIDE, 0.0, 0.0])

    def initial_terms(self, init_obs: np.ndarray):
        """The goal's x and the initial fingertips-to-handle distance."""
        return component(init_obs[..., OBJ1], 0) + self.direction * SLIDE, norm(init_obs[..., HAND] - init_obs[..., OBJ1])

    def evaluate(self, obs, action):
        handle = obs[..., OBJ1]
        goal_x, hand_to_handle_init = self.from_init(self.initial_terms)
        handle_to_goal = abs(component(handle, 0) - goal_x)
        hand_to_handle = distance(obs[..., HAND], handle)

        reach = closeness(hand_to_handle, hand_to_handle_init, TOUCH_DISTANCE)
        in_place = closeness(handle_to_goal, SLIDE, SUCCESS_DISTANCE)
        reward = 10.0 * hamacher_product(reach, in_place)
        success = handle_to_goal <= SUCCESS_DISTANCE
        return reward, info(
            success,
            near_object=hand_to_handle <= 0.05,
            grasp_success=1.0,
            grasp_reward=reach,
            in_place_reward=in_place,
            obj_to_target=handle_to_goal,
            unscaled_reward=reward,
        )

    @classmethod
    def expert(cls, obs: np.ndarray) -> np.ndarray:
        """Stand off in front of the handle, step in beside it, then push it along x."""
        hand, handle, direction = obs[HAND], obs[OBJ1], cls.direction
        contact = handle - np.array([direction * CONTACT_SIDE, 0.0, 0.0])
        level = abs(hand[2] - contact[2]) < 0.015
        beside = abs(hand[1] - contact[1]) < 0.012 and direction * (handle[0] - hand[0]) > 0.015
        if beside and level:
            # stop where the handle reaches the goal: a target past the joint limit would
            # make the hand's integrating actuator push ever harder against it
            end_x = obs[GOAL][0] - direction * CONTACT_SIDE
            return move(hand, np.array([end_x, contact[1], contact[2]]), CLOSE)
        if abs(hand[0] - contact[0]) < 0.01 and level:
            return move(hand, contact, CLOSE)
        return move(hand, contact - np.array([0.0, STANDOFF, 0.0]), CLOSE)


class WindowOpen(WindowSlide):
    name = "window-open"
    direction = 1.0
    success_description = f"window handle within {SUCCESS_DISTANCE * 100:.0f} cm of the open position (along x)"


register_task(WindowOpen)
