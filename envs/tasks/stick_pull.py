"""stick-pull: pick up a hooked stick, reach behind a thermos with it and pull it back.

Meta-World's stick-pull-v3 (Yu et al., 2019) in our world, turned as
stick-push is: the stick lies along y. Meta-World's stick hooks the
thermos' handle; ours carries the hook (``hooked_stick`` piece: a 5 cm bar
across its end, reaching +x), which goes behind the plain thermos.

Reset: the stick's grip point at x ∈ [-0.08, -0.03], y ∈ [0.38, 0.43]
(stick-push's ranges); the thermos fixed at x = 0, y = 0.8; the goal 20 cm
nearer the robot at x ∈ [-0.05, 0], on the table at the thermos' push height.
obs[4:7] is the grip point, obs[7:11] the stick's orientation, obs[11:14]
the thermos.
Reward: the shared tool reward (``envs.tasks._tool``): reach the grip point,
the hook behind the thermos while the stick is held, the thermos to the goal.
Success: the thermos within 12 cm of the goal (stick-push's, Meta-World's
0.12), i.e. pulled 8 cm or more towards it.
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1, OBJ2
from envs.tasks._tool import tool_initial_terms
from envs.tasks.push import grasp_action
from envs.tasks.stick_push import HOLDING, PUSH, PUSH_HEIGHT, THERMOS_RADIUS, TIP_FROM_GRIP, StickPush

#: the hook's pulling face (the middle of its -y face, 2.5 cm along it) from the grip point
HOOK_FROM_GRIP = TIP_FROM_GRIP + np.array([0.035, -0.01, 0.0])
#: while passing the thermos the shaft keeps this far to its left (the hook's end then clears it)
PASS_CLEARANCE = THERMOS_RADIUS + 0.065


def _hook_and_pull(obs):
    """Lift the held stick to the push height; pass the thermos on its left with the hook clear;
    beyond it, move right so the hook comes behind it; then pull the thermos to the goal."""
    grip, thermos, goal = obs[OBJ1], obs[OBJ2], obs[GOAL]
    tip = grip + TIP_FROM_GRIP
    hook = grip + HOOK_FROM_GRIP
    behind_y = thermos[1] + THERMOS_RADIUS + 0.01
    hooked_x = thermos[0] - 0.035  # the hook's middle on the thermos' left half
    if grip[2] < PUSH_HEIGHT - 0.005:
        target = np.array([tip[0], tip[1], PUSH_HEIGHT + 0.005])
    elif hook[1] < behind_y - 0.005:
        # not yet beyond it: shaft out to the thermos' left, then forward past it
        wide = thermos[0] - PASS_CLEARANCE
        if abs(tip[0] - wide) > 0.01:
            target = np.array([wide, tip[1], PUSH_HEIGHT])
        else:
            target = np.array([wide, behind_y + 0.02 + (tip - hook)[1], PUSH_HEIGHT])
    elif hook[0] < hooked_x - 0.005:
        target = tip + np.array([hooked_x - hook[0], 0.0, 0.0])
    else:
        target = tip + (goal - thermos) + np.array([0.0, -0.03, 0.0])
        target[2] = PUSH_HEIGHT
    return obs[HAND] + (target - tip)


class StickPull(StickPush):
    name = "stick-pull"
    success_description = "thermos within 12 cm of the goal, pulled back with a hooked stick"
    STICK_PIECE, THERMOS, GOAL_DY, WORKING_END = "hooked_stick", np.array([0.0, 0.8]), -PUSH, HOOK_FROM_GRIP
    INITIAL_TERMS = staticmethod(tool_initial_terms(HOOK_FROM_GRIP))

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _hook_and_pull, holding=HOLDING)


register_task(StickPull)
