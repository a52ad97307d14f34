"""reach: move the gripper's fingertips to a goal point in the air.

Reset: a puck on the table in x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7] (a distractor,
as in Meta-World); goal in x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9], z ∈ [0.05, 0.3].
Success: fingertip centre within 5 cm of the goal.
Reward: 10 · long-tail tolerance of the distance to the goal, with the
initial distance as margin (Meta-World reach-v2's shape).
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import distance, norm, tolerance_margin_array
from envs.tasks._common import GOAL, HAND, OPEN, info, move

SUCCESS_DISTANCE = 0.05


def _initial_distance(init_obs):
    return norm(init_obs[..., HAND] - init_obs[..., GOAL])


class Reach(PolytaskEnv):
    name = "reach"
    object_sites = ("puck/puck",)
    success_description = f"fingertips within {SUCCESS_DISTANCE * 100:.0f} cm of the goal"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.8, 0.05]), np.array([0.1, 0.9, 0.3])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "puck", "puck/")

    def reset_task(self, rng):
        xy = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        self.set_free_pose("puck/puck", [xy[0], xy[1], 0.02])
        self.goal = rng.uniform(self.GOAL_LOW, self.GOAL_HIGH)

    def evaluate(self, obs, action):
        to_goal = distance(obs[..., HAND], obs[..., GOAL])
        initial = self.from_init(_initial_distance)
        in_place = tolerance_margin_array(to_goal, (0.0, SUCCESS_DISTANCE), initial)
        reward = 10.0 * in_place
        success = to_goal <= SUCCESS_DISTANCE
        return reward, info(success, near_object=success, in_place_reward=in_place, obj_to_target=to_goal, unscaled_reward=in_place)

    @staticmethod
    def expert(obs):
        return move(obs[HAND], obs[GOAL], OPEN)


register_task(Reach)
