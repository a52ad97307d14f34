"""pick-out-of-hole: lift a puck out of a hole and hold it at a goal in the air.

Meta-World's pick-out-of-hole-v3 (Yu et al., 2019) in our world: pick-place's
puck (radius 2 cm, 4 cm high) in the hole of a board on the table
(``envs.tasks._hole``) in place of Meta-World's hole in the table.

Reset: the hole, and the puck standing in it, at x = 0, y = 0.75 (fixed, as
Meta-World's); the goal in the air at x ∈ [-0.1, 0.1], y ∈ [0.5, 0.6],
z ∈ [0.15, 0.3] (Meta-World's range, at least 15 cm from the hole as it
redraws). obs[4:7] is the puck's centre.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``).
Success: the puck's centre within 7 cm of the goal (Meta-World's 0.07).
The expert opens its fingers only part way in the hole (the grip action
-0.4: 6.8 cm between the pads, 9.2 cm across their outsides) so that they fit.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._hole import PART_OPEN, carry_over_the_rim
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import PUCK_HEIGHT, grasp_action

SUCCESS_DISTANCE = 0.07
HOLE = np.array([0.0, 0.75])


class PickOutOfHole(PolytaskEnv):
    name = "pick-out-of-hole"
    object_sites = ("puck/puck",)
    success_description = "puck centre within 7 cm of the goal in the air, lifted out of a hole"
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.5, 0.15]), np.array([0.1, 0.6, 0.3])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "puck", "puck/")
        world.attach(spec, "board_with_hole", "board/", pos=(HOLE[0], HOLE[1], 0.0))

    def reset_task(self, rng):
        self.set_free_pose("puck/puck", [HOLE[0], HOLE[1], PUCK_HEIGHT])
        # every goal in the range lies 15 cm or more from the hole (in y): no redraws
        self.goal = rng.uniform(self.GOAL_LOW, self.GOAL_HIGH)

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, carry_over_the_rim, opening=PART_OPEN)


register_task(PickOutOfHole)
