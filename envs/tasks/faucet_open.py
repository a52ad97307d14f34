"""faucet-open: turn a faucet's handle a quarter turn to the right (counter-clockwise).

Meta-World's faucet-open-v3 (Yu et al., 2019) on the ``faucet`` piece: a
handle 17.5 cm long turning about a vertical axis 12.4 cm above the table,
pointing at the robot at rest.

Reset: the faucet at x ∈ [-0.05, 0.05], y ∈ [0.8, 0.85] (Meta-World's range);
the goal is the handle's end after a quarter turn, 17.5 cm to the axis's right
(+x), as Meta-World's. obs[4:7] is the handle's end, obs[7:11] the head's
orientation.
Reward: the shared turning reward (``envs.tasks._turning``).
Success: the handle's end within 7 cm of the goal (Meta-World's 0.07), i.e.
turned at least 67°.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._turning import turned_point, turning_evaluate, turning_expert, turning_initial_terms

#: axis-to-end length of the handle and the head's height (faucet.xml)
HANDLE_LENGTH, HEAD_HEIGHT = 0.175, 0.124
SUCCESS_DISTANCE = 0.07


class FaucetOpen(PolytaskEnv):
    name = "faucet-open"
    object_sites = ("faucet/end",)
    success_description = "faucet handle's end within 7 cm of its position a quarter turn to the right"
    BASE_LOW, BASE_HIGH = np.array([-0.05, 0.8]), np.array([0.05, 0.85])
    #: +1 turns the handle counter-clockwise (its end to the right), -1 clockwise
    DIRECTION = 1.0

    @classmethod
    def build(cls, spec):
        world.attach(spec, "faucet", "faucet/")

    def reset_task(self, rng):
        xy = rng.uniform(self.BASE_LOW, self.BASE_HIGH)
        self.set_body_pos("faucet/base", [xy[0], xy[1], 0.0])
        self.set_joint("faucet/turn", 0.0)
        self.goal = turned_point([xy[0], xy[1], HEAD_HEIGHT], HANDLE_LENGTH, self.DIRECTION * np.pi / 2)

    def evaluate(self, obs, action):
        return turning_evaluate(obs, self.from_init(turning_initial_terms), SUCCESS_DISTANCE)

    @classmethod
    def expert(cls, obs):
        # push the handle's side 2 cm in from its end, the pads straddling its height
        return turning_expert(obs, HANDLE_LENGTH, cls.DIRECTION * np.pi / 2, push_radius=HANDLE_LENGTH - 0.02, standoff=0.04, below=0.02)


register_task(FaucetOpen)
