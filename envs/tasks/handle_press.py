"""handle-press: press a handle down, from its top position to 10 cm lower.

Meta-World's handle-press-v3 (Yu et al., 2019) on the ``handle`` piece
(``envs.tasks._handle``): the arm reaches towards the robot from a housing
behind it; the hand pushes the grip post's top down.

Reset: the housing at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9] (Meta-World's range),
the handle up (the post's top 17.2 cm above the table, 20 cm in front of the
housing); the goal is the post's top at the bottom of the travel (7.2 cm).
obs[4:7] is the centre of the post's top.
Reward: the shared handle reward, pressing (``envs.tasks._handle``).
Success: the post's top within 2 cm of the goal's height (Meta-World's
TARGET_RADIUS of 0.02).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._handle import HandleTask, press_expert


class HandlePress(HandleTask):
    name = "handle-press"
    PULL, SIDE = False, False
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])
    SUCCESS_RADIUS = 0.02
    success_description = "handle's grip within 2 cm of its fully pressed height"
    expert = staticmethod(press_expert)


register_task(HandlePress)
