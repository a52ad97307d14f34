"""sweep: push a block sideways along the table to a zone near its right-hand edge.

Meta-World's sweep-v3 (Yu et al., 2019, CoRL, "Meta-World", its v2 reward
``sawyer_sweep``): there the block is swept off the table's side. Our
invisible bounding box keeps loose objects on the table, so the goal is a
zone near the right-hand side (+x), at and past the hand's own reach
(x ≤ 0.5): a block carried in the fingers gets there only for the nearest
goals, one pushed by an open finger (the scripted expert) for all of them.

Reset: the block (a 4 cm cube) lies at x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7]; the
goal is at x ∈ [0.52, 0.56], at the block's y (a sideways sweep, as in
Meta-World) and its centre height (z = 0.02).
Reward (push's shaping, ``envs.tasks.push.object_reward``): ``reach`` is a
long-tail tolerance of the fingertip-to-block distance, 1 within 10 cm so
that a hand pushing with an open finger counts as at the block; ``in_place``
one of the block-to-goal distance (1 within 5 cm); reward = 2 · reach +
8 · hamacher(reach, in_place); 10 on success.
Success: the block's centre within 5 cm of the goal.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import clip, distance, select
from envs.tasks._common import GOAL, GRIPPER, HAND, OBJ1, OPEN, component, info, move
from envs.tasks.push import initial_distances, object_reward

SUCCESS_DISTANCE = 0.05
BLOCK_HALF = 0.02
#: fingertips within this distance of the block count as at it (an open finger pushes from 7.8 cm)
NEAR_DISTANCE = 0.1
#: block centre minus fingertip centre when the open right finger's outer face touches the block
PUSH_OFFSET = 0.078
#: fingertip height while pushing: the pads then cover the block's upper 3 cm
PUSH_HEIGHT = 0.012
#: fingertip height when moving over the block (pad bottoms 2.6 cm above its top)
HOVER_HEIGHT = 0.07
#: fraction of full speed for the push: faster pushes bounce the block
PUSH_SPEED = 0.5
#: the finger comes down this far behind the block so it never lands on its edge
DESCENT_CLEARANCE = 0.015


class Sweep(PolytaskEnv):
    name = "sweep"
    object_sites = ("block/block",)
    success_description = f"block centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal zone near the table's right-hand side"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    GOAL_X_LOW, GOAL_X_HIGH = 0.52, 0.56

    @classmethod
    def build(cls, spec):
        world.attach(spec, "block", "block/")

    def reset_task(self, rng):
        block = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        goal_x = rng.uniform(self.GOAL_X_LOW, self.GOAL_X_HIGH)
        self.set_free_pose("block/block", [block[0], block[1], BLOCK_HALF])
        self.goal = np.array([goal_x, block[1], BLOCK_HALF])

    def evaluate(self, obs, action):
        shaped, terms = object_reward(obs, self.from_init(initial_distances), SUCCESS_DISTANCE, hand_tight=NEAR_DISTANCE)
        success = terms["obj_to_target"] <= SUCCESS_DISTANCE
        near = terms["tcp_to_obj"] <= NEAR_DISTANCE
        # a sweep's "grasp": the open right finger against the block's -x face, ready to push
        push_point = obs[..., OBJ1] - np.array([PUSH_OFFSET, 0.0, BLOCK_HALF - PUSH_HEIGHT])
        pushing = (distance(obs[..., HAND], push_point) < 0.02) & (component(obs, GRIPPER) > 0.5)
        reward = select(success, 10.0, clip(shaped, 0.0, 10.0))
        return reward, info(
            success,
            near_object=near,
            grasp_success=pushing,
            grasp_reward=terms["reach"],
            in_place_reward=terms["in_place"],
            obj_to_target=terms["obj_to_target"],
            unscaled_reward=reward,
        )

    @staticmethod
    def expert(obs):
        """Push with the open right finger from the block's -x side.

        Phases from positions alone: low, behind the block and in line with
        it -> push towards the goal; otherwise go over a point 1.5 cm behind
        the pushing point at hover height (clear of the block's edge), then
        descend there.
        """
        hand, block, goal = obs[HAND], obs[OBJ1], obs[GOAL]
        in_line = abs(hand[1] - block[1]) < 0.02 and hand[0] < block[0] - 0.05
        if in_line and hand[2] < 0.03:
            # pad friction drags the block along in y: lead it a little towards the goal's y
            steer = np.clip(goal[1] - block[1], -0.005, 0.005)
            target = np.array([goal[0] - PUSH_OFFSET + 0.02, block[1] + steer, PUSH_HEIGHT])
            return move(hand, target, OPEN) * np.array([PUSH_SPEED, 1.0, 1.0, 1.0])
        start = block - np.array([PUSH_OFFSET + DESCENT_CLEARANCE, 0.0, 0.0])
        if abs(hand[0] - start[0]) > 0.01 or abs(hand[1] - start[1]) > 0.01:
            return move(hand, [start[0], start[1], max(HOVER_HEIGHT, min(hand[2], 0.12))], OPEN)
        return move(hand, [start[0], start[1], PUSH_HEIGHT], OPEN)


register_task(Sweep)
