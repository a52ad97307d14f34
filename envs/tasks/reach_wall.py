"""reach-wall: move the fingertips to a goal in the air behind a wall.

Meta-World's reach-wall-v3 (Yu et al., 2019) in our world: reach with the
fixed wall of ``envs.tasks._wall`` (x ∈ [-0.02, 0.22] at y = 0.75, 12 cm
high) between the start and the goal.

Reset: a puck on the table at x ∈ [-0.05, 0.05], y ∈ [0.6, 0.65] (a
distractor, as in Meta-World); the goal at x ∈ [-0.05, 0.05],
y ∈ [0.85, 0.9], z ∈ [0.05, 0.3] (Meta-World's ranges).
Reward: reach's, 10 · a long-tail tolerance of the fingertip-to-goal
distance with the initial distance as margin.
Success: fingertip centre within 5 cm of the goal (Meta-World's 0.05).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OPEN, move
from envs.tasks._wall import BehindAWall, over_the_wall
from envs.tasks.reach import Reach


class ReachWall(BehindAWall, Reach):
    name = "reach-wall"
    success_description = "fingertips within 5 cm of the goal behind a wall"
    GOAL_LOW, GOAL_HIGH = np.array([-0.05, 0.85, 0.05]), np.array([0.05, 0.9, 0.3])

    @staticmethod
    def expert(obs):
        return move(obs[HAND], over_the_wall(obs[HAND], obs[GOAL]), OPEN)


register_task(ReachWall)
