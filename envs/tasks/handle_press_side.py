"""handle-press-side: press down a handle that points across the table.

Meta-World's handle-press-side-v3 (Yu et al., 2019) on the ``handle`` piece
(``envs.tasks._handle``) turned a quarter: the housing stands on the robot's
left and the arm points right (+x); the hand pushes the grip post's top down.

Reset: the housing at x ∈ [-0.35, -0.25], y ∈ [0.65, 0.75] (Meta-World's
range), the handle up (the post's top 17.2 cm above the table, 20 cm to the
housing's right); the goal is the post's top at the bottom of the travel.
obs[4:7] is the centre of the post's top.
Reward: the shared handle reward, pressing (``envs.tasks._handle``).
Success: the post's top within 2 cm of the goal's height (Meta-World's
TARGET_RADIUS of 0.02).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._handle import HandleTask, press_expert


class HandlePressSide(HandleTask):
    name = "handle-press-side"
    PULL, SIDE = False, True
    BOX_LOW, BOX_HIGH = np.array([-0.35, 0.65]), np.array([-0.25, 0.75])
    SUCCESS_RADIUS = 0.02
    success_description = "sideways handle's grip within 2 cm of its fully pressed height"
    expert = staticmethod(press_expert)


register_task(HandlePressSide)
