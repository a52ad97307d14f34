"""What the four plate-slide tasks share: the plate, the reward, the success test and the pushing expert.

Meta-World's plate-slide, plate-slide-side, plate-slide-back and
plate-slide-back-side (Yu et al., 2019) slide a flat plate across the table,
into or out of a cabinet, from a fixed start to a goal drawn in a range;
here the plate (radius 4.5 cm, 2 cm thick) slides to a goal point on the
table, each task its own start and goal range, and the cabinet is left out
(it only frames the goal). The plate is too wide to grasp: it is pushed.

Reward (in [0, 10]): push's shaping (``envs.tasks.push.object_reward``):
2 · reach + 8 · hamacher(reach, in_place), reach 1 once the fingertips are
at the plate's rim (within its radius + 2 cm of its centre), in_place 1
within the success distance; 10 on success.
Success: the plate's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.rewards import clip, select
from envs.tasks._common import CLOSE, GOAL, HAND, OBJ1, info, move
from envs.tasks.push import initial_distances, object_reward

SUCCESS_DISTANCE = 0.07
PLATE_RADIUS, PLATE_HALF_HEIGHT = 0.045, 0.01
#: fingertips this close to the plate's centre are at its rim
AT_RIM = PLATE_RADIUS + 0.02
#: fingertip height while pushing (the plate's mid-height) and while moving over it
PUSH_HEIGHT, HOVER_HEIGHT = 0.012, 0.06
#: the closed fingers come down this far behind the rim, so they never land on the plate
DESCENT_CLEARANCE = 0.02


class PlateSlide(PolytaskEnv):
    """A plate-slide task: subclasses set ``name``, ``PLATE_START`` (x, y) and the goal's x, y range."""

    object_sites = ("plate/plate",)
    success_description = f"plate centre within {SUCCESS_DISTANCE * 100:.0f} cm of the goal on the table"
    PLATE_START: np.ndarray
    GOAL_LOW: np.ndarray
    GOAL_HIGH: np.ndarray

    @classmethod
    def build(cls, spec):
        world.attach(spec, "plate", "plate/")

    def reset_task(self, rng):
        self.set_free_pose("plate/plate", [self.PLATE_START[0], self.PLATE_START[1], PLATE_HALF_HEIGHT])
        goal = rng.uniform(self.GOAL_LOW, self.GOAL_HIGH)
        self.goal = np.array([goal[0], goal[1], PLATE_HALF_HEIGHT])

    def evaluate(self, obs, action):
        shaped, terms = object_reward(obs, self.from_init(initial_distances), SUCCESS_DISTANCE, hand_tight=AT_RIM)
        success = terms["obj_to_target"] <= SUCCESS_DISTANCE
        near = terms["tcp_to_obj"] <= AT_RIM
        reward = select(success, 10.0, clip(shaped, 0.0, 10.0))
        return reward, info(success, near_object=near, grasp_reward=terms["reach"], in_place_reward=terms["in_place"],
                            obj_to_target=terms["obj_to_target"], unscaled_reward=reward)

    @staticmethod
    def expert(obs):
        """Push the plate along the line from it to the goal with the closed fingers.

        Phases from positions alone: low and behind the plate on that line ->
        push towards a point past the goal (the line is recomputed every step,
        which steers the plate back when it drifts); otherwise go over a point
        behind the rim at hover height, then descend there.
        """
        hand, plate, goal = obs[HAND], obs[OBJ1], obs[GOAL]
        line = goal[:2] - plate[:2]
        direction = line / max(np.linalg.norm(line), 1e-6)
        behind = plate[:2] - direction * (PLATE_RADIUS + DESCENT_CLEARANCE)
        offset = hand[:2] - plate[:2]
        lateral = abs(offset[0] * direction[1] - offset[1] * direction[0])
        if hand[2] < PUSH_HEIGHT + 0.015 and lateral < 0.02 and offset @ direction < -PLATE_RADIUS:
            target = plate[:2] + direction * 0.03 - direction * PLATE_RADIUS
            return move(hand, [target[0], target[1], PUSH_HEIGHT], CLOSE) * np.array([0.6, 0.6, 1.0, 1.0])
        if np.linalg.norm(hand[:2] - behind) > 0.01:
            return move(hand, [behind[0], behind[1], max(HOVER_HEIGHT, min(hand[2], 0.12))], CLOSE)
        return move(hand, [behind[0], behind[1], PUSH_HEIGHT], CLOSE)
