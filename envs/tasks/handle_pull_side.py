"""handle-pull-side: lift a handle that points across the table.

Meta-World's handle-pull-side-v3 (Yu et al., 2019) on the ``handle`` piece
(``envs.tasks._handle``) turned a quarter: the housing stands on the robot's
left and the arm points right (+x); the hand holds the grip post between its
fingers and lifts it.

Reset: the housing at x ∈ [-0.35, -0.25], y ∈ [0.65, 0.75] (Meta-World's
range), the handle down (the post's top 7.2 cm above the table); the goal is
the post's top at the top of the travel (17.2 cm).
obs[4:7] is the centre of the post's top.
Reward: the shared handle reward, pulling (``envs.tasks._handle``).
Success: the post's top within 5 cm of the goal's height, as handle-pull's:
Meta-World's 0.08 for this task would count a 2 cm lift of the 10 cm travel.
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._handle import HandleTask, pull_expert


class HandlePullSide(HandleTask):
    name = "handle-pull-side"
    PULL, SIDE = True, True
    BOX_LOW, BOX_HIGH = np.array([-0.35, 0.65]), np.array([-0.25, 0.75])
    SUCCESS_RADIUS = 0.05
    success_description = "sideways handle's grip lifted to within 5 cm of its top height"
    expert = staticmethod(pull_expert)


register_task(HandlePullSide)
