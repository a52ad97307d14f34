"""push: move a puck across the table to a goal marked on the table.

Meta-World's push-v3 (Yu et al., 2019, "Meta-World", Table 5 and its v2
reward rewrite) in our world.

Reset: the puck (radius 2 cm) stands on the table at x ∈ [-0.1, 0.1],
y ∈ [0.6, 0.7]; the goal lies on the table (z = 0.02, the puck's centre
height) at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9], redrawn until it is at least
15 cm from the puck.
Reward (in [0, 10]): ``reach`` is a long-tail tolerance of the fingertip-to-
puck distance (1 within 2 cm, margin the initial distance); ``in_place`` a
long-tail tolerance of the puck-to-goal distance (1 within 5 cm, margin the
initial distance); reward = 2 · reach + 8 · hamacher(reach, in_place), so the
puck only pays off while the hand stays at it; 10 on success.
Success: the puck's centre within 5 cm of the goal.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import clip, closeness, distance, hamacher_product, select
from envs.tasks._common import CLOSE, GOAL, GRIPPER, HAND, OBJ1, OPEN, component, horizontal_distance, info, move

SUCCESS_DISTANCE = 0.05
PUCK_HEIGHT = 0.02  # the puck's centre above the table
#: fingertips this close to the puck count as "at the puck"
NEAR_DISTANCE = 0.03
#: gripper opening below which closed fingers hold a 4 cm object (open is 1; holding one reads about 0.3)
HOLDING_OPENING = 0.5
#: below this opening the fingers closed on nothing: the object slipped away
EMPTY_OPENING = 0.05


def initial_distances(init_obs):
    """Hand-to-object and object-to-goal distances at the start: the shaping's margins."""
    return distance(init_obs[..., HAND], init_obs[..., OBJ1]), distance(init_obs[..., OBJ1], init_obs[..., GOAL])


def object_reward(obs, initial, success_distance: float, hand_tight: float = 0.02):
    """The shared push/place shaping: reach the object, then bring it to the goal.

    ``initial`` is ``initial_distances(init_obs)``. Returns ``(reward,
    terms)``: ``reward`` in [0, 10] before the success override, and the terms
    ``reach``, ``in_place``, ``tcp_to_obj``, ``obj_to_target``. Broadcasts
    over leading axes.
    """
    tcp_to_obj = distance(obs[..., HAND], obs[..., OBJ1])
    obj_to_target = distance(obs[..., OBJ1], obs[..., GOAL])
    initial_tcp_to_obj, initial_obj_to_target = initial
    reach = closeness(tcp_to_obj, initial_tcp_to_obj, hand_tight)
    in_place = closeness(obj_to_target, initial_obj_to_target, success_distance)
    reward = 2.0 * reach + 8.0 * hamacher_product(reach, in_place)
    return reward, dict(reach=reach, in_place=in_place, tcp_to_obj=tcp_to_obj, obj_to_target=obj_to_target)


def push_evaluate(obs, initial, success_distance: float):
    """The whole ``evaluate`` of a task that moves an object along the table: reward and info terms.

    ``initial`` is ``initial_distances(init_obs)``.
    """
    shaped, terms = object_reward(obs, initial, success_distance)
    success = terms["obj_to_target"] <= success_distance
    near = terms["tcp_to_obj"] <= NEAR_DISTANCE
    reward = select(success, 10.0, clip(shaped, 0.0, 10.0))
    return reward, info(
        success,
        near_object=near,
        grasp_success=near & (component(obs, GRIPPER) < HOLDING_OPENING),
        grasp_reward=terms["reach"],
        in_place_reward=terms["in_place"],
        obj_to_target=terms["obj_to_target"],
        unscaled_reward=reward,
    )


def draw_goal_apart(rng, start, low, high, min_distance: float) -> np.ndarray:
    """A goal drawn uniformly in [low, high], redrawn until its x, y lie ``min_distance`` or more from ``start``."""
    goal = rng.uniform(low, high)
    while np.linalg.norm(goal[:2] - start) < min_distance:
        goal = rng.uniform(low, high)
    return goal


def draw_apart(rng, obj_low, obj_high, goal_low, goal_high, min_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """An object start and a goal drawn together, both redrawn until their x, y lie ``min_distance``
    or more apart (Meta-World's redraw): for ranges where some starts admit no goal that far."""
    while True:
        start, goal = rng.uniform(obj_low, obj_high), rng.uniform(goal_low, goal_high)
        if np.linalg.norm(goal[:2] - start[:2]) >= min_distance:
            return start, goal


def grasp_action(obs, carry_target_of, opening: float = OPEN, holding: float = HOLDING_OPENING):
    """Scripted grasp of the object at obs[4:7]; then move as ``carry_target_of(obs)`` says.

    Phases, decided from positions alone: away from the object -> hover above
    it, open; above it -> descend, open; down at it -> close; closed on it ->
    go to the hand target that ``carry_target_of`` returns. Fingers closed on
    nothing (the object slipped) open again where they are, and the phases
    start over. ``opening`` is the grip action while open: less than fully
    open (above -1) where the open fingers must fit somewhere narrow, such as a hole;
    it must leave the opening above ``holding``, the opening below which the
    fingers hold the object: ``HOLDING_OPENING`` suits objects about 4 cm
    across; a thinner one needs less, or the carry starts while the fingers
    are still closing on it.
    """
    hand, obj = obs[HAND], obs[OBJ1]
    if obs[GRIPPER] < EMPTY_OPENING:
        return move(hand, hand, opening)
    grasp_point = obj + np.array([0.0, 0.0, -0.005])
    aligned = horizontal_distance(hand, obj) <= 0.012
    down = abs(hand[2] - grasp_point[2]) <= 0.01
    if not aligned:
        # approach from above so the fingers never knock the object over
        hover_height = max(obj[2] + 0.06, hand[2]) if horizontal_distance(hand, obj) > 0.04 else hand[2]
        return move(hand, [obj[0], obj[1], hover_height], opening)
    if not down and obs[GRIPPER] > holding:
        return move(hand, grasp_point, opening)
    if obs[GRIPPER] > holding:
        return move(hand, grasp_point, CLOSE)
    return move(hand, carry_target_of(obs), CLOSE)


class Push(PolytaskEnv):
    name = "push"
    object_sites = ("puck/puck",)
    success_description = f"puck centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal on the table"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])
    MIN_START_TO_GOAL = 0.15
    SUCCESS_DISTANCE = SUCCESS_DISTANCE

    @classmethod
    def build(cls, spec):
        world.attach(spec, "puck", "puck/")

    def reset_task(self, rng):
        puck = rng.uniform(self.OBJ_LOW, self.OBJ_HIGH)
        goal = draw_goal_apart(rng, puck, self.GOAL_LOW, self.GOAL_HIGH, self.MIN_START_TO_GOAL)
        self.set_free_pose("puck/puck", [puck[0], puck[1], PUCK_HEIGHT])
        self.goal = np.array([goal[0], goal[1], PUCK_HEIGHT])

    def evaluate(self, obs, action):
        return push_evaluate(obs, self.from_init(initial_distances), self.SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        # hold the puck and slide it along the table: the hand moves by the puck-to-goal offset
        def drag(o):
            target = o[HAND] + (o[GOAL] - o[OBJ1])
            target[2] = o[HAND][2]
            return target

        return grasp_action(obs, drag)


register_task(Push)
