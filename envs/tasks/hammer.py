"""hammer: pick up a hammer and drive a nail into a box with it.

Meta-World's hammer-v3 (Yu et al., 2019) in our world, turned to our gripper:
the fingers close along x, so the ``hammer`` piece (a mallet) lies with its
handle along y and strikes with the +y face of its head; the ``nail_box``
piece's nail points at the robot (-y) and is driven in along +y.

Reset: the hammer's grip point on the table at x ∈ [-0.1, 0.1],
y ∈ [0.4, 0.5] (Meta-World's range for its hammer); the box fixed at
x = 0.24, y = 0.85 (Meta-World's), the nail's head 11 cm above the table,
sticking out 13 cm; the goal is the nail's head driven its full 10 cm in.
obs[4:7] is the grip point, obs[7:11] the hammer's orientation, obs[11:14]
the nail's head.
Reward: the shared tool reward (``envs.tasks._tool``): reach the grip point,
the head's face to the nail while the hammer is held, the nail's head to the
goal (its remaining depth).
Success (Meta-World's test): the nail driven 9 cm or more, i.e. its head
within 1 cm of the goal.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import GOAL, HAND, OBJ1, OBJ2
from envs.tasks._tool import tool_evaluate, tool_initial_terms
from envs.tasks.push import HOLDING_OPENING, grasp_action

SUCCESS_DEPTH = 0.01
#: the head's striking face from the grip point while the hammer lies straight (hammer.xml)
FACE_FROM_GRIP = np.array([0.0, 0.08, 0.005])
#: the hammer's handle rests with the grip point this high; the box's place (nail_box.xml)
GRIP_HEIGHT, BOX = 0.015, np.array([0.24, 0.85])
#: the nail's head at rest, from the box's place, and how far the nail drives in
NAIL_HEAD, DRIVE = np.array([0.0, -0.212, 0.11]), 0.1


_initial_terms = tool_initial_terms(FACE_FROM_GRIP)


def _strike(obs):
    """Carry the held hammer to line its face up 3 cm before the nail's head, then drive it past the goal."""
    grip, nail = obs[OBJ1], obs[OBJ2]
    face = grip + FACE_FROM_GRIP
    lined_up = abs(face[0] - nail[0]) < 0.01 and abs(face[2] - nail[2]) < 0.01
    if lined_up and face[1] > nail[1] - 0.04:
        face_target = obs[GOAL] + np.array([0.0, 0.02, 0.0])
    else:
        face_target = nail - np.array([0.0, 0.03, 0.0])
    return obs[HAND] + (face_target - face)


class Hammer(PolytaskEnv):
    name = "hammer"
    object_sites = ("hammer/grip", "nails/head")
    success_description = "nail driven 9 cm or more into the box (of its 10 cm)"
    GRIP_LOW, GRIP_HIGH = np.array([-0.1, 0.4]), np.array([0.1, 0.5])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "hammer", "hammer/")
        world.attach(spec, "nail_box", "nails/", pos=(BOX[0], BOX[1], 0.0))

    def reset_task(self, rng):
        grip = rng.uniform(self.GRIP_LOW, self.GRIP_HIGH)
        # the hammer's body origin is the handle's centre, 3 cm behind the grip point
        self.set_free_pose("hammer/hammer", [grip[0], grip[1] - 0.03, GRIP_HEIGHT])
        self.set_joint("nails/drive", 0.0)
        self.goal = np.array([BOX[0], BOX[1], 0.0]) + NAIL_HEAD + np.array([0.0, DRIVE, 0.0])

    def evaluate(self, obs, action):
        return tool_evaluate(obs, self.from_init(_initial_terms), FACE_FROM_GRIP, GRIP_HEIGHT, HOLDING_OPENING,
                             0.02, SUCCESS_DEPTH)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _strike)


register_task(Hammer)
