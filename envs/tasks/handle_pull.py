"""handle-pull: lift a handle from the bottom of its travel to 10 cm higher.

Meta-World's handle-pull-v3 (Yu et al., 2019) on the ``handle`` piece
(``envs.tasks._handle``): the arm reaches towards the robot from a housing
behind it; the hand holds the grip post between its fingers and lifts it.

Reset: the housing at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9] (Meta-World's range),
the handle down (the post's top 7.2 cm above the table, 20 cm in front of the
housing); the goal is the post's top at the top of the travel (17.2 cm).
obs[4:7] is the centre of the post's top.
Reward: the shared handle reward, pulling (``envs.tasks._handle``).
Success: the post's top within 5 cm of the goal's height (Meta-World's
TARGET_RADIUS of 0.05), i.e. lifted at least halfway.
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._handle import HandleTask, pull_expert


class HandlePull(HandleTask):
    name = "handle-pull"
    PULL, SIDE = True, False
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])
    SUCCESS_RADIUS = 0.05
    success_description = "handle's grip lifted to within 5 cm of its top height"
    expert = staticmethod(pull_expert)


register_task(HandlePull)
