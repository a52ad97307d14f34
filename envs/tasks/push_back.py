"""push-back: move a puck from the back of the table towards the robot, to a goal on the table.

Meta-World's push-back-v3 (Yu et al., 2019) in our world: push's puck, goal
and shaping with the two ranges exchanged.

Reset: the puck (radius 2 cm) stands on the table at x ∈ [-0.1, 0.1],
y ∈ [0.8, 0.85]; the goal lies on the table (z = 0.02, the puck's centre
height) at x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7] (Meta-World's ranges), so the
two are always 10 cm or more apart.
Reward (in [0, 10]): push's (``envs.tasks.push.object_reward``): 2 · reach +
8 · hamacher(reach, in_place), long-tail tolerances of the fingertip-to-puck
and puck-to-goal distances; 10 on success.
Success: the puck's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks.push import Push

SUCCESS_DISTANCE = 0.07


class PushBack(Push):
    name = "push-back"
    success_description = f"puck centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal, nearer the robot"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.85])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    MIN_START_TO_GOAL = 0.1  # what the ranges give anyway: no redraws
    SUCCESS_DISTANCE = SUCCESS_DISTANCE


register_task(PushBack)
