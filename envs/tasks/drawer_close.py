"""drawer-close: push an open drawer shut.

Meta-World's drawer-close-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world, on the cabinet of drawer-open
(:class:`envs.tasks.drawer_open.DrawerTask`).

Reset: the cabinet stands with its centre at x ∈ [-0.1, 0.1],
y ∈ [0.85, 0.95]; the drawer starts pulled out by 0.2 m (its full travel).
The goal is the handle's position with the drawer closed.
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the distance from
the fingertips to the inside of the handle loop, x and y weighted 3x (1 within
2 cm, margin the initial distance); ``in_place`` a long-tail tolerance of the
handle-to-goal distance (1 within 4 cm, margin the initial distance);
reward = 3 · reach + 7 · in_place, and 10 on success.
Success: the handle within 5.5 cm of the goal (Meta-World's 4 cm target
radius plus 1.5 cm).
"""

from __future__ import annotations

from envs.registry import register_task
from envs.rewards import select
from envs.tasks.drawer_open import TRAVEL, DrawerTask, drawer_expert


class DrawerClose(DrawerTask):
    name = "drawer-close"
    success_description = "handle within 5.5 cm of its closed position (the drawer starts 0.2 m out)"
    start_opening = TRAVEL
    goal_opening = 0.0
    success_distance = 0.055
    in_place_distance = 0.04

    @staticmethod
    def reward(reach, in_place, success):
        shaped = 3.0 * reach + 7.0 * in_place
        return select(success, 10.0, shaped), shaped / 10.0

    @staticmethod
    def expert(obs):
        return drawer_expert(obs, direction=1.0)


register_task(DrawerClose)
