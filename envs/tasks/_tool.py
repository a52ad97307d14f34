"""What the tool tasks share (hammer, stick-push): hold a tool, bring its working end to a
second object, and move that object to the goal.

obs[4:7] is the tool's grip point, obs[7:11] its orientation, obs[11:14] the
object the tool works on. The reward: 2 · reach (a long-tail tolerance of the
fingertips' distance to the grip point) + 3 · (while the tool is held off the
table) a long-tail tolerance of its working end's distance to the object +
5 · one of the object's distance to the goal; 10 on success (the object
within the success distance of the goal).
"""

from __future__ import annotations

import numpy as np

from envs.rewards import clip, closeness, distance, select
from envs.tasks._common import GOAL, GRIPPER, HAND, OBJ1, OBJ2, component, info
from envs.tasks.push import NEAR_DISTANCE


def tool_initial_terms(working_end: np.ndarray):
    """An ``init_obs`` function (for ``PolytaskEnv.from_init``, so made once per task module):
    the initial fingertips-to-grip, working-end-to-object and object-to-goal distances, for a
    tool whose working end lies ``working_end`` from its grip point while it lies straight."""

    def initial_terms(init_obs):
        end = init_obs[..., OBJ1] + working_end
        return (distance(init_obs[..., HAND], init_obs[..., OBJ1]), distance(end, init_obs[..., OBJ2]),
                distance(init_obs[..., OBJ2], init_obs[..., GOAL]))

    return initial_terms


def tool_evaluate(obs, initial, working_end: np.ndarray, rest_height: float, holding: float,
                  end_tight: float, success_distance: float):
    """Reward and info; ``initial`` is the ``tool_initial_terms`` function's result. The tool is
    held while the fingertips are at the grip, closed below the opening ``holding``, and the grip
    is 1 cm above ``rest_height``, its height lying on the table."""
    grip, target = obs[..., OBJ1], obs[..., OBJ2]
    hand_init, end_init, target_init = initial
    hand_to_grip = distance(obs[..., HAND], grip)
    reach = closeness(hand_to_grip, hand_init, 0.02)
    held = (hand_to_grip <= NEAR_DISTANCE) & (component(obs, GRIPPER) < holding) & (component(grip, 2) > rest_height + 0.01)
    at_target = closeness(distance(grip + working_end, target), end_init, end_tight)
    to_goal = distance(target, obs[..., GOAL])
    in_place = closeness(to_goal, target_init, success_distance)
    success = to_goal <= success_distance
    reward = select(success, 10.0, clip(2.0 * reach + 3.0 * select(held, at_target, 0.0) + 5.0 * in_place, 0.0, 10.0))
    return reward, info(
        success,
        near_object=hand_to_grip <= NEAR_DISTANCE,
        grasp_success=held,
        grasp_reward=reach,
        in_place_reward=in_place,
        obj_to_target=to_goal,
        unscaled_reward=reward,
    )
