"""push-wall: move a puck along the table, around a wall, to a goal behind it.

Meta-World's push-wall-v3 (Yu et al., 2019) in our world: push with the
fixed wall of ``envs.tasks._wall`` (x ∈ [-0.02, 0.22] at y = 0.75, 12 cm
high) between the puck and the goal; the way round is past its left end.

Reset: the puck (radius 2 cm) at x ∈ [-0.05, 0.05], y ∈ [0.6, 0.65]; the
goal on the table (z = 0.02) at x ∈ [-0.05, 0.05], y ∈ [0.85, 0.9]
(Meta-World's ranges).
Reward (in [0, 10]): push's (``envs.tasks.push.object_reward``), which
scores the straight-line distance to the goal: as in Meta-World, the wall
makes the shaping deceptive near it; 10 on success.
Success: the puck's centre within 5 cm of the goal (Meta-World's 0.05).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1
from envs.tasks._wall import BehindAWall, around_the_wall
from envs.tasks.push import Push, grasp_action


class PushWall(BehindAWall, Push):
    name = "push-wall"
    success_description = "puck centre within 5 cm of the goal, behind a wall, on the table"
    GOAL_LOW, GOAL_HIGH = np.array([-0.05, 0.85]), np.array([0.05, 0.9])
    MIN_START_TO_GOAL = 0.2  # what the ranges give anyway: no redraws

    @staticmethod
    def expert(obs):
        # hold the puck and slide it round the wall's left end: the hand moves by the puck-to-waypoint offset
        def drag(o):
            target = o[HAND] + (around_the_wall(o[OBJ1], o[GOAL]) - o[OBJ1])
            target[2] = o[HAND][2]
            return target

        return grasp_action(obs, drag)


register_task(PushWall)
