"""box-close: pick up a lid by its handle and put it on an open box.

Meta-World's box-close-v3 (Yu et al., 2019) in our world: the ``lid`` piece
(a 14 cm plate with a handle) and the ``open_box`` piece (12 cm square,
8 cm high), which the lid covers.

Reset: the lid on the table at x ∈ [-0.05, 0.05], y ∈ [0.5, 0.55]; the box
at x ∈ [-0.1, 0.1], y ∈ [0.7, 0.8], both redrawn until they are 25 cm or
more apart (Meta-World's ranges and redraw); the goal is the handle's middle
with the lid lying on the box (11 cm above the table). obs[4:7] is the
handle's middle.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``).
Success: the handle within 3 cm of the goal, i.e. the lid down on the box:
Meta-World's 8 cm passes a lid held 7 cm above it.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._hole import carry_over_the_rim
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import draw_apart, grasp_action

SUCCESS_DISTANCE = 0.03
#: the lid's centre rests this high on the table and the handle's middle this far above it (lid.xml)
LID_HALF_THICKNESS, HANDLE_ABOVE = 0.005, 0.025
BOX_HEIGHT = 0.08
#: the handle's middle while the lid's plate clears the box's walls by 3 cm
CLEAR_HEIGHT = BOX_HEIGHT + LID_HALF_THICKNESS + HANDLE_ABOVE + 0.03


def _carry(obs):
    return carry_over_the_rim(obs, CLEAR_HEIGHT)


class BoxClose(PolytaskEnv):
    name = "box-close"
    object_sites = ("lid/handle",)
    success_description = "lid's handle within 3 cm of its place with the lid on the box"
    LID_LOW, LID_HIGH = np.array([-0.05, 0.5]), np.array([0.05, 0.55])
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.7]), np.array([0.1, 0.8])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "lid", "lid/")
        world.attach(spec, "open_box", "box/", pos=(0.0, 0.75, 0.0))

    def reset_task(self, rng):
        lid, box = draw_apart(rng, self.LID_LOW, self.LID_HIGH, self.BOX_LOW, self.BOX_HIGH, 0.25)
        self.set_free_pose("lid/lid", [lid[0], lid[1], LID_HALF_THICKNESS])
        self.set_body_pos("box/box", [box[0], box[1], 0.0])
        self.goal = np.array([box[0], box[1], BOX_HEIGHT + LID_HALF_THICKNESS + HANDLE_ABOVE])

    def evaluate(self, obs, action):
        return lift_evaluate(obs, self.from_init(lift_initial), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _carry)


register_task(BoxClose)
