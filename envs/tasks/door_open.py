"""door-open: pull a hinged door open by its handle.

Meta-World's door-open-v3 (Yu et al., 2019, "Meta-World", Table 5 and its v2
reward rewrite) in our world; this module also holds :class:`DoorTask`, the
door, reward and scripted expert that door-close shares.

Reset: the door's frame (``assets/objects/door.xml``) stands with its hinge
axis at x ∈ [-0.2, -0.1], y ∈ [0.85, 0.95], door closed. The panel reaches
27 cm from the hinge towards +x, 21.5 cm high, and opens towards the robot. The goal is the
handle's position with the door open at 90° (π/2 rad; the hinge stops at
1.75 rad).
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the distance from
the fingertips to the inside of the handle loop (1 within 2 cm, margin the
initial distance); ``moved`` a long-tail tolerance of the handle-to-goal
distance (1 within 4 cm, margin the initial distance); reward = 2 · reach +
8 · moved, Meta-World's 2 : 8 split between getting ready and opening, and 10
on success.
Success: the handle within 8 cm of the goal (the door opened past ~68°).

The door's angle is read from the handle's orientation (obs[7:11]), so the
hinge, the loop and the goal follow from the observation and the initial
observation alone: reward and success stay right when the goal is hidden.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import closeness, distance, select
from envs.tasks._common import HAND, OBJ1, QUAT1, info
from envs.tasks.drawer_open import loop_handle_action

#: the handle site in the door's frame (origin: foot of the hinge axis), door closed
HANDLE = np.array([0.2, -0.075, 0.17])
#: where the fingertips sit inside the handle loop, in the same frame: between
#: the bar (y = -7.5 cm) and the panel (y = -1 cm), just below the bar
LOOP_CENTRE = np.array([0.2, -0.0425, 0.16])
OPEN_ANGLE = np.pi / 2
#: the expert lines up this high above the loop: clear of the 21.5 cm panel top
HOVER_HEIGHT = 0.08
#: how far ahead along the swing (rad) the expert aims while it moves the door
SWING_LEAD = 0.12


def door_angle(quat: np.ndarray) -> np.ndarray:
    """The hinge angle (about -z) from the handle's (w, x, y, z) quaternion; broadcasts."""
    quat = np.asarray(quat, dtype=np.float64)
    if quat.ndim == 1:  # one world: math on floats is far cheaper than numpy on 0-d arrays
        w, z = float(quat[0]), float(quat[3])
        sign = -1.0 if w < 0 else 1.0
        return 2.0 * math.atan2(-z * sign, w * sign)
    sign = np.where(quat[..., 0] < 0, -1.0, 1.0)  # q and -q are the same rotation
    return 2.0 * np.arctan2(-quat[..., 3] * sign, quat[..., 0] * sign)


def swing(point: np.ndarray, angle) -> np.ndarray:
    """``point`` (door frame) turned by the hinge ``angle`` about -z; broadcasts over angles."""
    x, y, z = point[0], point[1], point[2]
    if isinstance(angle, float):
        cos, sin = math.cos(angle), math.sin(angle)
        return np.array([x * cos + y * sin, -x * sin + y * cos, z])
    angle = np.asarray(angle, dtype=np.float64)[..., None]
    cos, sin = np.cos(angle), np.sin(angle)
    return np.concatenate([x * cos + y * sin, -x * sin + y * cos, z + 0.0 * cos], axis=-1)


def hinge_from(handle: np.ndarray, angle) -> np.ndarray:
    """The foot of the hinge axis, given the handle's position and the door's angle."""
    return handle - swing(HANDLE, angle)


def door_expert(obs: np.ndarray, direction: float) -> np.ndarray:
    """Scripted door policy: fingers into the handle loop, then swing along the arc.

    ``direction`` +1 opens the door, -1 shuts it; the target leads the loop by
    ``SWING_LEAD`` along the circle around the hinge, so the hand follows the
    door's arc instead of pulling against the hinge.
    """
    angle = door_angle(obs[QUAT1])
    hinge = hinge_from(obs[OBJ1], angle)
    grip = hinge + swing(LOOP_CENTRE, angle)
    ahead = hinge + swing(LOOP_CENTRE, angle + direction * SWING_LEAD)
    return loop_handle_action(obs[HAND], grip, ahead, HOVER_HEIGHT)


class DoorTask(PolytaskEnv):
    """A hinged door in a frame; subclasses set the angle it starts at and must reach."""

    object_sites = ("door/handle",)
    HINGE_LOW, HINGE_HIGH = np.array([-0.2, 0.85]), np.array([-0.1, 0.95])
    #: the door's angle (rad) at reset and at the goal
    start_angle: ClassVar[float] = 0.0
    goal_angle: ClassVar[float] = OPEN_ANGLE
    #: success: handle within this distance of the goal
    success_distance: ClassVar[float] = 0.08

    @classmethod
    def build(cls, spec):
        world.attach(spec, "door", "door/")

    def reset_task(self, rng):
        hinge = np.append(rng.uniform(self.HINGE_LOW, self.HINGE_HIGH), 0.0)
        self.set_body_pos("door/frame", hinge)
        self.set_joint("door/hinge", self.start_angle)
        self.goal = hinge + swing(HANDLE, self.goal_angle)

    def goal_from(self, init_obs: np.ndarray) -> np.ndarray:
        """The goal implied by the initial handle pose; broadcasts over leading axes."""
        hinge = hinge_from(init_obs[..., OBJ1], door_angle(init_obs[..., QUAT1]))
        return hinge + swing(HANDLE, self.goal_angle if hinge.ndim == 1 else np.full(hinge.shape[:-1], self.goal_angle))

    @staticmethod
    def fingertips_to_loop(obs: np.ndarray) -> np.ndarray:
        angle = door_angle(obs[..., QUAT1])
        grip = hinge_from(obs[..., OBJ1], angle) + swing(LOOP_CENTRE, angle)
        return distance(obs[..., HAND], grip)

    def initial_terms(self, init_obs: np.ndarray):
        """The goal and the initial fingertips-to-loop and handle-to-goal distances."""
        goal = self.goal_from(init_obs)
        return goal, self.fingertips_to_loop(init_obs), distance(init_obs[..., OBJ1], goal)

    def evaluate(self, obs, action):
        goal, initial_tcp_to_loop, initial_handle_to_goal = self.from_init(self.initial_terms)
        tcp_to_loop = self.fingertips_to_loop(obs)
        reach = closeness(tcp_to_loop, initial_tcp_to_loop, 0.02)
        handle_to_goal = distance(obs[..., OBJ1], goal)
        moved = closeness(handle_to_goal, initial_handle_to_goal, 0.04)
        success = handle_to_goal <= self.success_distance
        shaped = 2.0 * reach + 8.0 * moved
        reward = select(success, 10.0, shaped)
        return reward, info(
            success,
            near_object=tcp_to_loop <= 0.03,
            grasp_success=tcp_to_loop <= 0.025,
            grasp_reward=reach,
            in_place_reward=moved,
            obj_to_target=handle_to_goal,
            unscaled_reward=shaped / 10.0,
        )


class DoorOpen(DoorTask):
    name = "door-open"
    success_description = "handle within 8 cm of its position with the door open at 90°"

    @staticmethod
    def expert(obs):
        return door_expert(obs, direction=1.0)


register_task(DoorOpen)
