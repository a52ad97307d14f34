"""disassemble: lift a nut by its handle up off a peg.

Meta-World's disassemble-v3 (Yu et al., 2019): assembly's nut and peg, the
nut starting on the peg.

Reset: the ring round the post's foot, the post at x ∈ [0, 0.1],
y ∈ [0.6, 0.75] (Meta-World's range for the nut); the goal is the handle's
centre 15 cm above its start (Meta-World's lift). obs[4:7] is the handle's
centre, obs[11:14] the ring's.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``) on the
handle's distance to the goal.
Success (Meta-World's test): the ring's centre at or above the goal's height,
its underside 5 cm above the post's top.
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1, OBJ2, component
from envs.tasks.assembly import HANDLE_REACH, NUT_HALF_HEIGHT, Assembly
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import grasp_action

LIFT = 0.15
#: the handle within this of the goal counts as there in the shaping (success is the height test)
IN_PLACE_DISTANCE = 0.02


def _lift(obs):
    # straight up along the post, aiming 3 cm past the goal's height
    return obs[HAND] + (obs[GOAL] + np.array([0.0, 0.0, 0.03]) - obs[OBJ1])


class Disassemble(Assembly):
    name = "disassemble"
    success_description = "nut's ring lifted 15 cm, off the peg"
    PEG_LOW, PEG_HIGH = np.array([0.0, 0.6]), np.array([0.1, 0.75])

    def reset_task(self, rng):
        peg = rng.uniform(self.PEG_LOW, self.PEG_HIGH)
        self.set_body_pos("peg/post", [peg[0], peg[1], 0.0])
        self.set_free_pose("nut/nut", [peg[0], peg[1], NUT_HALF_HEIGHT])
        self.goal = np.array([peg[0], peg[1] - HANDLE_REACH, NUT_HALF_HEIGHT + LIFT])

    def evaluate(self, obs, action):
        lifted = component(obs[..., OBJ2], 2) >= component(obs[..., GOAL], 2)
        return lift_evaluate(obs, self.from_init(lift_initial), IN_PLACE_DISTANCE, success=lifted)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _lift)


register_task(Disassemble)
