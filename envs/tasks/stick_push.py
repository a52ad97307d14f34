"""stick-push: pick up a stick and push a thermos along the table with its end.

Meta-World's stick-push-v3 (Yu et al., 2019) in our world, turned to our
gripper as peg-insert-side is: the fingers close along x, so the stick lies
along y and pushes the thermos away from the robot (+y), where Meta-World's
pushes it to the right.

Reset: the stick's grip point at x ∈ [-0.08, -0.03] (Meta-World's range
across the push), y ∈ [0.38, 0.43]; the thermos (radius 3.5 cm) fixed at
x = 0, y = 0.75; the goal 20 cm further on (Meta-World's push), at
x ∈ [-0.05, 0] (Meta-World's spread across the push), both on the table at
the thermos' push height. obs[4:7] is the grip point, obs[7:11] the stick's
orientation, obs[11:14] the thermos.
Reward: the shared tool reward (``envs.tasks._tool``): reach the grip point,
the tip to the thermos while the stick is held, the thermos to the goal.
Success: the thermos within 12 cm of the goal (Meta-World's 0.12), i.e.
pushed 8 cm or more towards it.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1, OBJ2
from envs.tasks._tool import tool_evaluate, tool_initial_terms
from envs.tasks.push import grasp_action

SUCCESS_DISTANCE = 0.12
#: the tip from the grip point along a straight stick, the stick's half-thickness, the thermos' radius
TIP_FROM_GRIP, STICK_HALF, THERMOS_RADIUS = np.array([0.0, 0.22, 0.0]), 0.01, 0.035
#: gripper opening below which the fingers hold the 2 cm stick
HOLDING = 0.25
#: the thermos' site height (thermos.xml) and how far it goes to the goal
PUSH_HEIGHT, PUSH = 0.03, 0.2


def _push_with_the_tip(obs):
    """Lift the held stick to the push height, bring its tip behind the thermos on the line from
    the goal, then push through it towards the goal."""
    grip, thermos, goal = obs[OBJ1], obs[OBJ2], obs[GOAL]
    tip = grip + TIP_FROM_GRIP
    heading = (goal - thermos)[:2]
    heading = np.array([*(heading / max(np.linalg.norm(heading), 1e-6)), 0.0])
    behind = thermos - (THERMOS_RADIUS + STICK_HALF + 0.02) * heading
    if grip[2] < PUSH_HEIGHT - 0.005:
        tip_target = np.array([tip[0], tip[1], PUSH_HEIGHT + 0.005])
    elif np.linalg.norm((tip - behind)[:2]) > 0.012 and tip[1] < behind[1] + 0.005:
        tip_target = np.array([behind[0], behind[1], PUSH_HEIGHT])
    else:
        tip_target = thermos + 0.05 * heading
        tip_target[2] = PUSH_HEIGHT
    return obs[HAND] + (tip_target - tip)


class StickPush(PolytaskEnv):
    name = "stick-push"
    object_sites = ("stick/grip", "thermos/thermos")
    success_description = "thermos within 12 cm of the goal, pushed with a stick"
    GRIP_LOW, GRIP_HIGH = np.array([-0.08, 0.38]), np.array([-0.03, 0.43])
    GOAL_X = (-0.05, 0.0)
    #: the stick piece, where the thermos stands, the goal's offset from it along y, and the
    #: stick's working end from its grip point (its tip here)
    STICK_PIECE, THERMOS, GOAL_DY, WORKING_END = "stick", np.array([0.0, 0.75]), PUSH, TIP_FROM_GRIP
    INITIAL_TERMS = staticmethod(tool_initial_terms(TIP_FROM_GRIP))

    @classmethod
    def build(cls, spec):
        world.attach(spec, cls.STICK_PIECE, "stick/")
        world.attach(spec, "thermos", "thermos/")

    def reset_task(self, rng):
        grip = rng.uniform(self.GRIP_LOW, self.GRIP_HIGH)
        # the stick's centre lies 7 cm beyond the grip point (stick.xml)
        self.set_free_pose("stick/stick", [grip[0], grip[1] + 0.07, STICK_HALF])
        self.set_free_pose("thermos/thermos", [self.THERMOS[0], self.THERMOS[1], 0.0])
        self.goal = np.array([rng.uniform(*self.GOAL_X), self.THERMOS[1] + self.GOAL_DY, PUSH_HEIGHT])

    def evaluate(self, obs, action):
        return tool_evaluate(obs, self.from_init(self.INITIAL_TERMS), self.WORKING_END, STICK_HALF, HOLDING,
                             THERMOS_RADIUS + 0.02, SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _push_with_the_tip, holding=HOLDING)


register_task(StickPush)
