"""coffee-push: slide a mug along the table to its place under a coffee machine's spout.

Meta-World's coffee-push-v3 (Yu et al., 2019) in our world: the ``mug``
piece and the ``coffee_machine`` piece, whose spout stands above the goal.

Reset: the mug (radius 2.5 cm, 9 cm high) at x ∈ [-0.1, 0.1],
y ∈ [0.55, 0.65]; the goal, on the table under the spout, at
x ∈ [-0.05, 0.05], y ∈ [0.7, 0.75], both redrawn until they are 15 cm or more
apart (Meta-World's ranges and redraw); the machine 22 cm behind the goal.
obs[4:7] is the mug's centre; the goal is given at that height.
Reward and expert: push's (``envs.tasks.push``; the expert holds the mug and
slides it): 2 · reach + 8 · hamacher(reach, in_place), long-tail tolerances
of the fingertip-to-mug and mug-to-goal distances; 10 on success.
Success: the mug's centre within 3.5 cm of the goal: Meta-World's test
(0.07 on the distance with x and y doubled) while the mug stands.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.registry import register_task
from envs.tasks.push import Push, draw_apart

SUCCESS_DISTANCE = 0.035
MUG_HEIGHT = 0.045  # the mug's centre above the table
#: the machine's centre stands this far behind the mug's place under its spout (coffee_machine.xml)
SPOUT_REACH = 0.22


class CoffeePush(Push):
    name = "coffee-push"
    object_sites = ("mug/mug",)
    success_description = "mug centre within 3.5 cm of its place under the coffee machine's spout"
    OBJ_LOW, OBJ_HIGH = np.array([-0.1, 0.55]), np.array([0.1, 0.65])
    GOAL_LOW, GOAL_HIGH = np.array([-0.05, 0.7]), np.array([0.05, 0.75])
    MIN_START_TO_GOAL = 0.15
    SUCCESS_DISTANCE = SUCCESS_DISTANCE

    @classmethod
    def build(cls, spec):
        world.attach(spec, "mug", "mug/")
        world.attach(spec, "coffee_machine", "machine/", pos=(0.0, 1.0, 0.0))

    def reset_task(self, rng):
        # from some starts no goal lies 15 cm away: redraw both
        mug, goal = draw_apart(rng, self.OBJ_LOW, self.OBJ_HIGH, self.GOAL_LOW, self.GOAL_HIGH, self.MIN_START_TO_GOAL)
        self.set_free_pose("mug/mug", [mug[0], mug[1], MUG_HEIGHT])
        self.place_machine(mug, goal)
        self.goal = np.array([goal[0], goal[1], MUG_HEIGHT])

    def place_machine(self, mug, goal):
        """The spout above the goal: the mug is pushed in under it."""
        self.set_body_pos("machine/machine", [goal[0], goal[1] + SPOUT_REACH, 0.0])


register_task(CoffeePush)
