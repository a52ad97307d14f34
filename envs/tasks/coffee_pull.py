"""coffee-pull: slide a mug out from under a coffee machine's spout, towards the robot.

Meta-World's coffee-pull-v3 (Yu et al., 2019): coffee-push's mug and
machine, the mug starting under the spout.

Reset: the mug, under the spout, at x ∈ [-0.05, 0.05], y ∈ [0.7, 0.75]; the
goal on the table at x ∈ [-0.1, 0.1], y ∈ [0.55, 0.65], both redrawn until
they are 15 cm or more apart (Meta-World's ranges and redraw); the machine
22 cm behind the mug. obs[4:7] is the mug's centre; the goal is given at that
height.
Reward: coffee-push's (push's shaping, 10 on success).
Success: the mug's centre within 3.5 cm of the goal (Meta-World's 0.07 on
the distance with x and y doubled, while the mug stands).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks.coffee_push import SPOUT_REACH, CoffeePush


class CoffeePull(CoffeePush):
    name = "coffee-pull"
    success_description = "mug centre within 3.5 cm of the goal, pulled out from under the spout"
    OBJ_LOW, OBJ_HIGH = np.array([-0.05, 0.7]), np.array([0.05, 0.75])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.55]), np.array([0.1, 0.65])

    def place_machine(self, mug, goal):
        """The spout above the mug's start: it is pulled out from under it."""
        self.set_body_pos("machine/machine", [mug[0], mug[1] + SPOUT_REACH, 0.0])


register_task(CoffeePull)
