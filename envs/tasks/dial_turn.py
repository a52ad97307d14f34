"""dial-turn: turn a dial on the table a quarter turn clockwise.

Meta-World's dial-turn-v3 (Yu et al., 2019) on the ``dial`` piece: a disc
(radius 5 cm) turning about a vertical axis, with a ridge across its top to
push; its pointer faces the robot at rest.

Reset: the dial at x ∈ [-0.1, 0.1], y ∈ [0.7, 0.8] (Meta-World's range);
the goal is the pointer after a quarter turn clockwise (5 cm to the axis's
left). obs[4:7] is the pointer, obs[7:11] the dial's orientation.
Reward: the shared turning reward (``envs.tasks._turning``); Meta-World's
multiplies its reach term by the grip action, ours does not score actions.
Success: the pointer within 2 cm of the goal, i.e. turned 67°-113°
clockwise: faucet's window of angles. Meta-World's test (the pointer within
7 cm of a point 3 cm above and behind the axis) passes for any turn of at
least 78°, either way.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._turning import turned_point, turning_evaluate, turning_expert, turning_initial_terms

#: axis-to-pointer radius and the pointer's height above the table (dial.xml)
POINTER_RADIUS, POINTER_HEIGHT = 0.05, 0.066
SUCCESS_DISTANCE = 0.02
CLOCKWISE = -1.0


class DialTurn(PolytaskEnv):
    name = "dial-turn"
    object_sites = ("dial/pointer",)
    success_description = "dial pointer within 2 cm of its position a quarter turn clockwise"
    BASE_LOW, BASE_HIGH = np.array([-0.1, 0.7]), np.array([0.1, 0.8])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "dial", "dial/")

    def reset_task(self, rng):
        xy = rng.uniform(self.BASE_LOW, self.BASE_HIGH)
        self.set_body_pos("dial/base", [xy[0], xy[1], 0.0])
        self.set_joint("dial/turn", 0.0)
        self.goal = turned_point([xy[0], xy[1], POINTER_HEIGHT], POINTER_RADIUS, CLOCKWISE * np.pi / 2)

    def evaluate(self, obs, action):
        return turning_evaluate(obs, self.from_init(turning_initial_terms), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        # push the ridge's side 3.5 cm out from the axis, the pads above the disc (the ridge is 3 cm wide)
        return turning_expert(obs, POINTER_RADIUS, CLOCKWISE * np.pi / 2, push_radius=0.035, standoff=0.038, below=0.021)


register_task(DialTurn)
