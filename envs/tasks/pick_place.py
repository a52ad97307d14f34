"""pick-place: grasp a puck from the table and hold it at a goal in the air.

Meta-World's pick-place-v3 (Yu et al., 2019, "Meta-World", Table 5 and its
v2 reward rewrite) in our world.

Reset: the puck (radius 2 cm, height 4 cm) stands on the table at
x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7]; the goal is in the air at x ∈ [-0.1, 0.1],
y ∈ [0.8, 0.9], z ∈ [0.05, 0.3], redrawn until it is at least 15 cm (in
x, y) from the puck.
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the fingertip-to-
puck distance (1 within 2 cm, margin the initial distance); ``in_place`` a
long-tail tolerance of the puck-to-goal distance (1 within 7 cm, margin the
initial distance); reward = 2 · reach + lifted · (1 + 7 · in_place), where
``lifted`` means the fingertips are at the puck and the puck is 1 cm or more
above its start, so sliding the puck pays nothing; 10 on success.
Success: the puck's centre within 7 cm of the goal.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import clip, closeness, distance, select
from envs.tasks._common import GOAL, GRIPPER, HAND, OBJ1, component, info
from envs.tasks.push import HOLDING_OPENING, NEAR_DISTANCE, PUCK_HEIGHT, draw_goal_apart, grasp_action, initial_distances

SUCCESS_DISTANCE = 0.07
#: the puck must be this far above its start to count as lifted
LIFT_HEIGHT = 0.01


def carry_to_goal(obs):
    """Hand target that puts the held object on the goal: shift the hand by the object-to-goal offset."""
    return obs[HAND] + (obs[GOAL] - obs[OBJ1])


def lift_initial(init_obs):
    """The initial hand-to-object and object-to-goal distances and the object's initial height."""
    return (*initial_distances(init_obs), component(init_obs[..., OBJ1], 2))


def lift_reward(obs, initial, success_distance: float):
    """Reach, then a lift-gated place term: ``(reward, terms)``, broadcasting over leading axes.

    ``initial`` is ``lift_initial(init_obs)``.
    """
    initial_tcp_to_obj, initial_obj_to_target, initial_height = initial
    tcp_to_obj = distance(obs[..., HAND], obs[..., OBJ1])
    obj_to_target = distance(obs[..., OBJ1], obs[..., GOAL])
    reach = closeness(tcp_to_obj, initial_tcp_to_obj, 0.02)
    in_place = closeness(obj_to_target, initial_obj_to_target, success_distance)
    near = tcp_to_obj <= NEAR_DISTANCE
    lifted = near & (component(obs[..., OBJ1], 2) - initial_height >= LIFT_HEIGHT)
    reward = 2.0 * reach + select(lifted, 1.0 + 7.0 * in_place, 0.0)
    return reward, dict(reach=reach, in_place=in_place, near=near, lifted=lifted, obj_to_target=obj_to_target)


def lift_evaluate(obs, initial, success_distance: float, success=None):
    """The whole ``evaluate`` of a pick-and-place task: reward and the info terms.

    ``initial`` is ``lift_initial(init_obs)``. Success is the object within
    ``success_distance`` of the goal, unless the task passes its own test
    (``success``, broadcast like ``obs[..., 0]``); the distance still sets the shaping.
    """
    shaped, terms = lift_reward(obs, initial, success_distance)
    if success is None:
        success = terms["obj_to_target"] <= success_distance
    holding = terms["lifted"] & (component(obs, GRIPPER) < HOLDING_OPENING)
    reward = select(success, 10.0, clip(shaped, 0.0, 10.0))
    return reward, info(
        success,
        near_object=terms["near"],
        grasp_success=holding,
        grasp_reward=terms["reach"],
        in_place_reward=terms["in_place"],
        obj_to_target=terms["obj_to_target"],
        unscaled_reward=reward,
    )


class PickPlace(PolytaskEnv):
    name = "pick-place"
    object_sites = ("puck/puck",)
    success_description = f"puck centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal in the air"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.8, 0.05]), np.array([0.1, 0.9, 0.3])
    MIN_START_TO_GOAL = 0.15

    @classmethod
    def build(cls, spec):
        world.attach(spec, "puck", "puck/")

    def reset_task(self, rng):
        puck = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        self.goal = draw_goal_apart(rng, puck, self.GOAL_LOW, self.GOAL_HIGH, self.MIN_START_TO_GOAL)
        self.set_free_pose("puck/puck", [puck[0], puck[1], PUCK_HEIGHT])

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, carry_to_goal)


register_task(PickPlace)
