"""assembly: pick up a nut by its handle and put it down over a peg.

Meta-World's assembly-v3 (Yu et al., 2019) in our world: the ``nut`` piece (a
square ring with a flat handle) and the ``peg_stand`` piece (a post 3 cm
square, 10 cm high); the ring's 5 cm hole leaves 1 cm of play round the post.

Reset: the nut's handle at x = 0, y = 0.6 (fixed, as Meta-World's nut), the
ring behind it; the peg at x ∈ [-0.1, 0.1], y ∈ [0.75, 0.85] (Meta-World's
range, always 10 cm or more from the nut as it redraws). The goal is the
handle's centre with the ring lying round the post's foot, the nut turned
as at the start. obs[4:7] is the handle's centre, obs[11:14] the ring's.
Reward: pick-place's (``envs.tasks.pick_place.lift_evaluate``) on the
handle's distance to the goal.
Success (Meta-World's test): the ring's centre within 2 cm of the post's
axis (horizontally) and below the post's top: the nut is on the peg.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import GOAL, OBJ2, component, horizontal_distance
from envs.tasks._hole import carry_over_the_rim
from envs.tasks.pick_place import lift_evaluate, lift_initial
from envs.tasks.push import grasp_action

ALIGNED = 0.02
#: the nut's half-height (its centre above the table at rest), its ring's centre behind its handle,
#: and the post's height (nut.xml, peg_stand.xml)
NUT_HALF_HEIGHT, HANDLE_REACH, POST_HEIGHT = 0.015, 0.065, 0.1
#: the handle's height while the ring's underside clears the post's top by 2 cm
CLEAR_HEIGHT = POST_HEIGHT + NUT_HALF_HEIGHT + 0.02
HANDLE_START = np.array([0.0, 0.6])
#: the post's top from the goal (the handle's place with the ring round the post's foot)
POST_TOP_FROM_GOAL = np.array([0.0, HANDLE_REACH, POST_HEIGHT - NUT_HALF_HEIGHT])


def on_the_peg(obs, post_top):
    """Meta-World's test: the ring round the post's axis and below its top."""
    ring = obs[..., OBJ2]
    return (horizontal_distance(ring, post_top) <= ALIGNED) & (component(ring, 2) < component(post_top, 2))


def _carry(obs):
    return carry_over_the_rim(obs, CLEAR_HEIGHT)


class Assembly(PolytaskEnv):
    name = "assembly"
    object_sites = ("nut/handle", "nut/ring")
    success_description = "nut's ring within 2 cm of the peg's axis and below its top (on the peg)"
    PEG_LOW, PEG_HIGH = np.array([-0.1, 0.75]), np.array([0.1, 0.85])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "nut", "nut/")
        world.attach(spec, "peg_stand", "peg/", pos=(0.0, 0.8, 0.0))

    def reset_task(self, rng):
        peg = rng.uniform(self.PEG_LOW, self.PEG_HIGH)
        self.set_free_pose("nut/nut", [HANDLE_START[0], HANDLE_START[1] + HANDLE_REACH, NUT_HALF_HEIGHT])
        self.set_body_pos("peg/post", [peg[0], peg[1], 0.0])
        self.goal = np.array([peg[0], peg[1] - HANDLE_REACH, NUT_HALF_HEIGHT])

    def evaluate(self, obs, action):
        post_top = obs[..., GOAL] + POST_TOP_FROM_GOAL
        return lift_evaluate(obs, self.from_init(lift_initial), ALIGNED, success=on_the_peg(obs, post_top))

    @staticmethod
    def expert(obs):
        return grasp_action(obs, _carry)


register_task(Assembly)
