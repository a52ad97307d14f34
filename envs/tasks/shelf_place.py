"""shelf-place: pick a block from the table and put it on a shelf's middle level.

Meta-World's shelf-place-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world.

Reset: the block (a 4 cm cube) lies on the table at x ∈ [-0.1, 0.1],
y ∈ [0.5, 0.6]; the shelf (open towards the robot, middle board 15 cm above
the table, a board above it) stands with its centre at x ∈ [-0.1, 0.1],
y ∈ [0.8, 0.9]; the goal is the block's centre resting on the middle board's
centre (z = 0.17).
Reward (in [0, 10]): as pick-place, ``reach`` is a long-tail tolerance of
the fingertip-to-block distance (1 within 2 cm, margin the initial
distance), ``in_place`` one of the block-to-goal distance (1 within 7 cm,
margin the initial distance); reward = 2 · reach + lifted · (1 + 7 ·
in_place), where ``lifted`` means the fingertips are at the block and the
block is 1 cm or more above its start; 10 on success.
Success: the block's centre within 7 cm of the goal.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import grasp_action

SUCCESS_DISTANCE = 0.07
BLOCK_HALF = 0.02
#: half the shelf's depth: the board's front edge is this far before the goal
SHELF_HALF_DEPTH = 0.07
#: how far above its resting height the block is carried onto the shelf
CARRY_CLEARANCE = 0.015


def shelve_target(obs):
    """Hand target that brings the held block onto the shelf level from the front.

    While the block is in front of the shelf and below the level, it goes to a
    staging point 6 cm before the board's front edge at carrying height; from
    there (or once inside) it slides straight to just above the goal.
    """
    hand, obj, goal = obs[HAND], obs[OBJ1], obs[GOAL]
    front = goal[1] - SHELF_HALF_DEPTH
    carry_height = goal[2] + CARRY_CLEARANCE
    outside = obj[1] < front - 0.03
    below = obj[2] < carry_height - 0.005
    aim_y = front - 0.06 if (outside and below) else goal[1]
    aim = np.array([goal[0], aim_y, carry_height])
    return hand + (aim - obj)


class ShelfPlace(PolytaskEnv):
    name = "shelf-place"
    object_sites = ("block/block",)
    success_description = f"block centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal on the shelf's middle level"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.5]), np.array([0.1, 0.6])
    SHELF_LOW, SHELF_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "block", "block/")
        world.attach(spec, "shelf", "shelf/")

    def reset_task(self, rng):
        block = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        shelf = rng.uniform(self.SHELF_LOW, self.SHELF_HIGH)
        shelf_pos = np.array([shelf[0], shelf[1], 0.0])
        self.set_body_pos("shelf/shelf", shelf_pos)
        self.set_free_pose("block/block", [block[0], block[1], BLOCK_HALF])
        # the "level" site marks the middle board's top (shelf.xml); the block's centre rests above it
        self.goal = shelf_pos + self.model.site("shelf/level").pos + [0.0, 0.0, BLOCK_HALF]

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, shelve_target)


register_task(ShelfPlace)
