"""door-close: push an open hinged door shut.

Meta-World's door-close-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world, on the door of door-open
(:class:`envs.tasks.door_open.DoorTask`).

Reset: the door's frame stands with its hinge axis at x ∈ [-0.2, -0.1],
y ∈ [0.85, 0.95]; the door starts open at 90° (π/2 rad, Meta-World's start),
its panel sticking out towards the robot. The goal is the handle's position
with the door closed.
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the distance from
the fingertips to the inside of the handle loop (1 within 2 cm, margin the
initial distance); ``moved`` a long-tail tolerance of the handle-to-goal
distance (1 within 4 cm, margin the initial distance); reward = 2 · reach +
8 · moved, and 10 on success.
Success: the handle within 8 cm of the goal (the door within ~22° of shut).
"""

from __future__ import annotations

from envs.registry import register_task
from envs.tasks.door_open import OPEN_ANGLE, DoorTask, door_expert


class DoorClose(DoorTask):
    name = "door-close"
    success_description = "handle within 8 cm of its position with the door shut (the door starts open at 90°)"
    start_angle = OPEN_ANGLE
    goal_angle = 0.0

    @staticmethod
    def expert(obs):
        return door_expert(obs, direction=-1.0)


register_task(DoorClose)
