"""What the button tasks share: the ``button`` piece's travel and the press reward.

The ``button`` piece (``envs/assets/objects/button.xml``) is a housing with a
mushroom button on a spring that travels ``TRAVEL`` = 5 cm. Top-down tasks
stand it on the table (press along -z); the others turn it to face the robot
(press along +y). The reward (Meta-World v2's shape, our code) is the same
along either axis: 5 · hamacher(fingers closed, hand near the cap) plus,
once the fingertips are within 3 cm of the cap, 5 · a long-tail tolerance of
the cap's remaining travel to the fully pressed position (1 within 5 mm).
"""

from __future__ import annotations

from envs.rewards import closeness, distance, hamacher_product, norm, select
from envs.tasks._common import GRIPPER, HAND, OBJ1, component, info

#: how far the button travels to the end of its joint range (button.xml)
TRAVEL = 0.05
#: the press term counts only while the fingertips touch the cap
PRESS_CONTACT_DISTANCE = 0.03


def pressed_position(axis: int, direction: float):
    """An ``init_obs`` function (for ``PolytaskEnv.from_init``, so made once per task module):
    the cap's coordinate along ``axis`` when fully pressed (``direction`` the press's sign along
    it) and the initial fingertips-to-cap distance."""

    def initial_terms(init_obs):
        return component(init_obs[..., OBJ1], axis) + direction * TRAVEL, norm(init_obs[..., HAND] - init_obs[..., OBJ1])

    return initial_terms


def press_evaluate(obs, initial, axis: int, success_depth: float):
    """Reward and info of a button pressed along ``axis``; ``initial`` is ``pressed_position``'s result.
    Success: the cap within ``success_depth`` of the fully pressed position along ``axis``."""
    cap = obs[..., OBJ1]
    pressed, hand_to_cap_init = initial
    hand_to_cap = distance(obs[..., HAND], cap)
    depth_to_goal = abs(component(cap, axis) - pressed)

    fingers_closed = 1.0 - component(obs, GRIPPER)
    near_cap = closeness(hand_to_cap, hand_to_cap_init, 0.01)
    pressed_term = closeness(depth_to_goal, TRAVEL, 0.005)
    touching = hand_to_cap <= PRESS_CONTACT_DISTANCE
    reward = 5.0 * hamacher_product(fingers_closed, near_cap) + 5.0 * select(touching, pressed_term, 0.0)
    success = depth_to_goal <= success_depth
    return reward, info(
        success,
        near_object=hand_to_cap <= 0.05,
        grasp_success=component(obs, GRIPPER) > 0,
        grasp_reward=near_cap,
        in_place_reward=pressed_term,
        obj_to_target=depth_to_goal,
        unscaled_reward=reward,
    )
