"""drawer-open: pull a drawer out of its cabinet by the handle.

Meta-World's drawer-open-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world; this module also holds :class:`DrawerTask`,
the cabinet, reward and scripted expert that drawer-close shares.

Reset: the cabinet (``assets/objects/drawer.xml``) stands with its centre at
x ∈ [-0.1, 0.1], y ∈ [0.85, 0.95], drawer closed. The goal is the handle's
position with the drawer fully pulled out (0.2 m towards the robot).
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the distance from
the fingertips to the inside of the handle loop, x and y weighted 3x so that
the hand lines up above the loop before it descends (1 within 2 cm, margin the
initial distance); ``opened`` a long-tail tolerance of the handle-to-goal
distance (1 within 2 cm, margin the initial distance); reward = 5 · (reach +
opened), Meta-World's sum.
Success: the handle within 3 cm of the goal.

The goal is recomputed in ``evaluate`` from the initial handle position (the
drawer's travel is a class constant), so reward and success stay right when
the goal is hidden from the observation.
"""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import closeness, distance, norm
from envs.tasks._common import CLOSE, HAND, OBJ1, horizontal_distance, info, move

#: the drawer's travel along -y between closed and fully pulled out (the joint range)
TRAVEL = 0.2
#: the handle site relative to the cabinet's origin with the drawer closed
HANDLE_CLOSED = np.array([0.0, -0.18, 0.09])
#: where the fingertips sit inside the handle loop, relative to the handle site:
#: between the bar (y = 0) and the drawer's front plate (y = +5 cm), just below the bar
LOOP_CENTRE = np.array([0.0, 0.029, -0.01])
#: x and y weigh more than z in the reach term: line up first, then descend
REACH_SCALE = np.array([3.0, 3.0, 1.0])
#: fingertips this close to the loop's centre along x, y, z are inside the loop
LOOP_HALF_SIZE = np.array([0.035, 0.015, 0.03])
#: how high above the loop the expert lines up before it descends (fingers clear the 16.5 cm front plate)
HOVER_HEIGHT = 0.11


def loop_handle_action(hand: np.ndarray, grip: np.ndarray, slide_target: np.ndarray, hover_height: float) -> np.ndarray:
    """Scripted use of a loop handle: closed fingers into the loop, then slide.

    ``grip`` is where the fingertips belong inside the loop, ``slide_target``
    where the hand heads once they are there. Phases, decided from positions
    alone: fingertips inside the loop -> head for ``slide_target``; lined up
    above the loop -> descend; not lined up and below the hover height -> rise
    straight up; otherwise -> fly to the hover point ``hover_height`` above the
    loop. The door tasks use
    it too.
    """
    xy_error = horizontal_distance(hand, grip)
    if xy_error < 0.025 and hand[2] < grip[2] + 0.03:
        return move(hand, slide_target, CLOSE)
    if xy_error < 0.008:
        # a gentler gain near the loop: the hand lags its target and would overshoot
        return move(hand, grip, CLOSE, gain=10.0)
    hover = grip[2] + hover_height
    if hand[2] < hover - 0.01:
        return move(hand, [hand[0], hand[1], hover], CLOSE)
    return move(hand, [grip[0], grip[1], hover], CLOSE)


def drawer_expert(obs: np.ndarray, direction: float) -> np.ndarray:
    """Scripted drawer policy: ``direction`` -1 pulls the drawer out, +1 pushes it in."""
    grip = obs[OBJ1] + LOOP_CENTRE
    return loop_handle_action(obs[HAND], grip, grip + np.array([0.0, 0.03 * direction, 0.0]), HOVER_HEIGHT)


class DrawerTask(PolytaskEnv):
    """A cabinet with a drawer; subclasses set where the drawer starts and must end."""

    object_sites = ("drawer/handle",)
    CABINET_LOW, CABINET_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.95])
    #: the drawer's opening (metres out of the cabinet) at reset and at the goal
    start_opening: ClassVar[float] = 0.0
    goal_opening: ClassVar[float] = TRAVEL
    #: success: handle within this distance of the goal
    success_distance: ClassVar[float] = 0.03
    #: handle-to-goal distance where the in-place term reaches 1
    in_place_distance: ClassVar[float] = 0.02

    @classmethod
    def build(cls, spec):
        world.attach(spec, "drawer", "drawer/")
        # Nothing is grasped here (the fingers hook the handle), so the cheaper pyramidal
        # friction cone will do; the scene's elliptic cone is for holding objects. With
        # the pads pressed on the drawer it cuts a quarter of each step's physics.
        spec.option.cone = mujoco.mjtCone.mjCONE_PYRAMIDAL

    def reset_task(self, rng):
        cabinet = np.append(rng.uniform(self.CABINET_LOW, self.CABINET_HIGH), 0.0)
        self.set_body_pos("drawer/cabinet", cabinet)
        self.set_joint("drawer/slide", self.start_opening)
        self.goal = cabinet + HANDLE_CLOSED - np.array([0.0, self.goal_opening, 0.0])

    def goal_from(self, init_obs: np.ndarray) -> np.ndarray:
        """The goal implied by the initial handle position; broadcasts over leading axes."""
        shift = np.array([0.0, self.start_opening - self.goal_opening, 0.0])
        return init_obs[..., OBJ1] + shift

    def initial_terms(self, init_obs: np.ndarray):
        """The goal, the initial scaled fingertips-to-loop distance and handle-to-goal distance."""
        goal = self.goal_from(init_obs)
        offset = init_obs[..., OBJ1] + LOOP_CENTRE - init_obs[..., HAND]
        return goal, norm(offset * REACH_SCALE), distance(init_obs[..., OBJ1], goal)

    def reach_terms(self, obs: np.ndarray, initial_reach_distance):
        """(reach reward, fingertips-in-loop flag, fingertip-to-loop distance)."""
        offset = obs[..., OBJ1] + LOOP_CENTRE - obs[..., HAND]
        reach = closeness(norm(offset * REACH_SCALE), initial_reach_distance, 0.02)
        in_loop = (abs(offset) <= LOOP_HALF_SIZE).all(axis=-1)
        return reach, in_loop, norm(offset)

    @staticmethod
    def reward(reach, in_place, success):
        """``(reward, unscaled_reward)`` from the reach and in-place terms; each task weighs them."""
        raise NotImplementedError

    def evaluate(self, obs, action):
        goal, initial_reach_distance, initial_handle_to_goal = self.from_init(self.initial_terms)
        reach, in_loop, tcp_to_loop = self.reach_terms(obs, initial_reach_distance)
        handle_to_goal = distance(obs[..., OBJ1], goal)
        in_place = closeness(handle_to_goal, initial_handle_to_goal, self.in_place_distance)
        success = handle_to_goal <= self.success_distance
        reward, unscaled_reward = self.reward(reach, in_place, success)
        return reward, info(
            success,
            near_object=tcp_to_loop <= 0.03,
            grasp_success=in_loop,
            grasp_reward=reach,
            in_place_reward=in_place,
            obj_to_target=handle_to_goal,
            unscaled_reward=unscaled_reward,
        )


class DrawerOpen(DrawerTask):
    name = "drawer-open"
    success_description = "handle within 3 cm of its fully pulled-out position (0.2 m out)"

    @staticmethod
    def reward(reach, in_place, success):
        reward = 5.0 * (reach + in_place)
        return reward, reward / 10.0

    @staticmethod
    def expert(obs):
        return drawer_expert(obs, direction=-1.0)


register_task(DrawerOpen)
