"""pick-place-wall: grasp a puck and lift it over a wall to a goal in the air behind it.

Meta-World's pick-place-wall-v3 (Yu et al., 2019) in our world: pick-place
with the fixed wall of ``envs.tasks._wall`` (x ∈ [-0.02, 0.22] at y = 0.75,
12 cm high) between the puck and the goal.

Reset: the puck (radius 2 cm, height 4 cm) at x ∈ [-0.05, 0.05],
y ∈ [0.6, 0.65]; the goal at x ∈ [-0.05, 0.05], y ∈ [0.85, 0.9],
z ∈ [0.05, 0.3] (Meta-World's ranges).
Reward (in [0, 10]): pick-place's (``envs.tasks.pick_place.lift_evaluate``):
2 · reach + lifted · (1 + 7 · in_place), sliding pays nothing; 10 on success.
Success: the puck's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1
from envs.tasks._wall import BehindAWall, over_the_wall
from envs.tasks.pick_place import PickPlace
from envs.tasks.push import grasp_action


class PickPlaceWall(BehindAWall, PickPlace):
    name = "pick-place-wall"
    success_description = "puck centre within 7 cm of the goal in the air behind a wall"
    GOAL_LOW, GOAL_HIGH = np.array([-0.05, 0.85, 0.05]), np.array([0.05, 0.9, 0.3])
    MIN_START_TO_GOAL = 0.2  # what the ranges give anyway: no redraws

    @staticmethod
    def expert(obs):
        # the held puck hangs about as far below the hand as the puck's centre is: lift it clear by that much
        def carry(o):
            hand_target = o[HAND] + (o[GOAL] - o[OBJ1])
            return over_the_wall(o[HAND], hand_target, lift=max(o[HAND][2] - o[OBJ1][2], 0.0) + 0.02)

        return grasp_action(obs, carry)


register_task(PickPlaceWall)
