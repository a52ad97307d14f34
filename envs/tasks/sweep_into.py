"""sweep-into: sweep a block across the table into a walled target zone.

Meta-World's sweep-into-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world. Meta-World cuts a hole in its table; ours is
a solid slab, so the target is a zone walled on three sides and open towards
the robot: a block swept in along +y stops against its back wall.

Reset: the block (a 4 cm cube) lies on the table at x ∈ [-0.1, 0.1],
y ∈ [0.6, 0.7]; the zone's centre is at x ∈ [-0.05, 0.05], y ∈ [0.83, 0.87]
(12 cm square inside, 4 cm walls), redrawn until it is at least 15 cm from
the block; the goal is the zone centre at the block's centre height (z = 0.02).
Reward (in [0, 10]): as push, ``reach`` is a long-tail tolerance of the
fingertip-to-block distance (1 within 2 cm, margin the initial distance),
``in_place`` one of the block-to-goal distance (1 within 5 cm, margin the
initial distance); reward = 2 · reach + 8 · hamacher(reach, in_place); 10 on
success.
Success: the block's centre within 5 cm of the zone centre.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1
from envs.tasks.push import grasp_action, initial_distances, push_evaluate

SUCCESS_DISTANCE = 0.05
BLOCK_HALF = 0.02
#: the zone's inside half-width: its open front is this far before its centre
ZONE_INNER_HALF = 0.06


def sweep_target(obs):
    """Hand target that drags the held block into the zone through its open front.

    Off to the side of the zone, the block first goes to a point 10 cm in
    front of the opening, level with the centre, so it never rides over a
    side wall; lined up, it goes straight in.
    """
    hand, obj, goal = obs[HAND], obs[OBJ1], obs[GOAL]
    outside = obj[1] < goal[1] - ZONE_INNER_HALF - 0.01
    off_line = abs(obj[0] - goal[0]) > 0.015
    aim = np.array([goal[0], goal[1] - 0.1, goal[2]]) if (outside and off_line) else goal
    target = hand + (aim - obj)
    target[2] = hand[2]
    return target


class SweepInto(PolytaskEnv):
    name = "sweep-into"
    object_sites = ("block/block",)
    success_description = f"block centre within {SUCCESS_DISTANCE * 100:.0f} cm of the target zone's centre"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    ZONE_LOW, ZONE_HIGH = np.array([-0.05, 0.83]), np.array([0.05, 0.87])
    MIN_START_TO_GOAL = 0.15

    @classmethod
    def build(cls, spec):
        world.attach(spec, "block", "block/")
        world.attach(spec, "target_zone", "target_zone/")

    def reset_task(self, rng):
        block = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        zone = rng.uniform(self.ZONE_LOW, self.ZONE_HIGH)
        while np.linalg.norm(zone - block) < self.MIN_START_TO_GOAL:
            block = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        self.set_body_pos("target_zone/zone", [zone[0], zone[1], 0.0])
        self.set_free_pose("block/block", [block[0], block[1], BLOCK_HALF])
        self.goal = np.array([zone[0], zone[1], BLOCK_HALF])

    def evaluate(self, obs, action):
        return push_evaluate(obs, self.from_init(initial_distances), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, sweep_target)


register_task(SweepInto)
