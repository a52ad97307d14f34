"""hand-insert: put a block down into a hole.

Meta-World's hand-insert-v3 (Yu et al., 2019) in our world: the block of
sweep and shelf-place (a 4 cm cube), and a hole in a board on the table
(``envs.tasks._hole``) in place of Meta-World's hole in the table.

Reset: the block on the table at x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7]; the hole's
centre at x ∈ [-0.04, 0.04], y ∈ [0.8, 0.88] (Meta-World's ranges); the goal
is the block's centre standing at the bottom of the hole (2 cm above the
table, 3 cm below the board's top), as Meta-World's goal lies below its
table's top. obs[4:7] is the block's centre.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``): 2 · reach,
plus 1 + 7 · in_place while the block is held off its start height; 10 on
success.
Success: the block's centre within 5 cm of the goal (Meta-World's 0.05):
down in the hole, as beside it on the board it stands 5 cm or more from it.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._hole import carry_over_the_rim
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import grasp_action

SUCCESS_DISTANCE = 0.05
BLOCK_HALF = 0.02


class HandInsert(PolytaskEnv):
    name = "hand-insert"
    object_sites = ("block/block",)
    success_description = "block centre within 5 cm of the bottom of the hole"
    BLOCK_LOW, BLOCK_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    HOLE_LOW, HOLE_HIGH = np.array([-0.04, 0.8]), np.array([0.04, 0.88])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "block", "block/")
        world.attach(spec, "board_with_hole", "board/", pos=(0.0, 0.84, 0.0))

    def reset_task(self, rng):
        block = rng.uniform(self.BLOCK_LOW, self.BLOCK_HIGH)
        hole = rng.uniform(self.HOLE_LOW, self.HOLE_HIGH)
        self.set_free_pose("block/block", [block[0], block[1], BLOCK_HALF])
        self.set_body_pos("board/board", [hole[0], hole[1], 0.0])
        self.goal = np.array([hole[0], hole[1], BLOCK_HALF])

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, carry_over_the_rim)


register_task(HandInsert)
