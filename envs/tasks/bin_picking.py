"""bin-picking: move a block from one bin into the other.

Meta-World's bin-picking-v3 (Yu et al., 2019) in our world: the block of
sweep and shelf-place (a 4 cm cube) and the ``bins`` piece, two fixed bins
5 cm high side by side.

Reset: the block in the left bin at x ∈ [-0.21, -0.03], y ∈ [0.65, 0.75]
(Meta-World's range); the bins fixed with the right one's centre at
x = 0.12, y = 0.7 (Meta-World's goal); the goal is the block's centre
standing there. obs[4:7] is the block's centre.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``).
Success: the block's centre within 5 cm of the goal (Meta-World's 0.05):
in the right bin, away from its walls.
The expert opens its fingers part way (the grip action -0.4) so that they
never meet the left bin's walls.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._hole import PART_OPEN, carry_over_the_rim
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import grasp_action

SUCCESS_DISTANCE = 0.05
BLOCK_HALF = 0.02
BINS_Y = 0.7
TARGET = np.array([0.12, BINS_Y, BLOCK_HALF])


class BinPicking(PolytaskEnv):
    name = "bin-picking"
    object_sites = ("block/block",)
    success_description = "block centre within 5 cm of the other bin's centre"
    BLOCK_LOW, BLOCK_HIGH = np.array([-0.21, 0.65]), np.array([-0.03, 0.75])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "block", "block/")
        world.attach(spec, "bins", "bins/", pos=(0.0, BINS_Y, 0.0))

    def reset_task(self, rng):
        block = rng.uniform(self.BLOCK_LOW, self.BLOCK_HIGH)
        self.set_free_pose("block/block", [block[0], block[1], BLOCK_HALF])
        self.goal = TARGET.copy()

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, carry_over_the_rim, opening=PART_OPEN)


register_task(BinPicking)
