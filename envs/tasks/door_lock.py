"""door-lock: turn a door's lock lever down, a quarter turn.

Meta-World's door-lock-v3 (Yu et al., 2019) on the ``door_lock`` piece: a
locked door whose lock lever (9 cm) turns about an axis through the door,
20 cm above the table; a peg at the lever's end sticks out towards the robot.

Reset: the door at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.85] (Meta-World's range),
the lever pointing right (unlocked); the goal is the peg with the lever
pointing down (9 cm lower and 9 cm to the left), as Meta-World's lock
target lies 10 cm below the lever's start. obs[4:7] is the peg's centre,
obs[7:11] the lever's orientation.
Reward: the shared turning reward (``envs.tasks._turning``).
Success: the peg within 2 cm of the goal (Meta-World's 0.02), i.e. turned
to within 13° of pointing down.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._turning import Hinge, turned_point, turning_evaluate, turning_expert, turning_initial_terms

#: the lever's pivot relative to the door's foot, its axis-to-peg length (door_lock.xml)
PIVOT, LEVER_LENGTH = np.array([0.04, -0.07, 0.2]), 0.09
SUCCESS_DISTANCE = 0.02
#: about y (through the door), pointing right at rest: a positive turn swings the lever down
LOCK_HINGE = Hinge(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
UNLOCKED, LOCKED = 0.0, np.pi / 2


class DoorLock(PolytaskEnv):
    name = "door-lock"
    object_sites = ("lock/peg",)
    success_description = "lock lever's peg within 2 cm of its locked position (pointing down)"
    DOOR_LOW, DOOR_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.85])
    START, FINAL = UNLOCKED, LOCKED

    @classmethod
    def build(cls, spec):
        world.attach(spec, "door_lock", "lock/")

    def reset_task(self, rng):
        xy = rng.uniform(self.DOOR_LOW, self.DOOR_HIGH)
        self.set_body_pos("lock/door", [xy[0], xy[1], 0.0])
        self.set_joint("lock/turn", self.START)
        self.goal = turned_point(np.array([xy[0], xy[1], 0.0]) + PIVOT, LEVER_LENGTH, self.FINAL, LOCK_HINGE)

    def evaluate(self, obs, action):
        return turning_evaluate(obs, self.from_init(turning_initial_terms), SUCCESS_DISTANCE)

    @classmethod
    def expert(cls, obs):
        # push the peg round, the fingertips 2.5 cm off its centre (its radius is 1 cm)
        return turning_expert(obs, LEVER_LENGTH, cls.FINAL, push_radius=LEVER_LENGTH, standoff=0.025, hinge=LOCK_HINGE)


register_task(DoorLock)
