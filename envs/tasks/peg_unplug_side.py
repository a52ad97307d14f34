"""peg-unplug-side: pull a peg out of a socket in a block's side.

Meta-World's peg-unplug-side-v3 (Yu et al., 2019), turned to our gripper as
peg-insert-side is: the fingers close along x, so the peg lies along y in a
socket in the block's -y face and comes out towards the robot.

Reset: the block's socket mouth at x ∈ [-0.15, 0.15], y ∈ [0.82, 0.88]
(peg-insert-side's hole range), 10 cm above the table; the peg (24 cm long,
3 cm square, its head first) 13 cm deep in the snug socket (``socket``
piece), resting on its floor, its centre of mass inside. The goal is the
head 15 cm out from its start, as Meta-World pulls its plug 15 cm; obs[4:7]
is the peg's head, obs[7:11] its orientation, obs[11:14] the socket's mouth.
Reward: peg-insert-side's grasp-and-carry shape (``carry_result``): the
grasp term, a long-tail tolerance of the head-to-goal distance, 1 + 5 ·
in_place while the peg is held; 10 on success.
Success: the head within 2 cm of the goal, i.e. out of the socket's mouth:
Meta-World's 7 cm radius would pass with the head still 5 cm inside ours.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import closeness, distance
from envs.tasks._common import GOAL, HAND, OBJ1
from envs.tasks.peg_insert_side import PEG_HALF_WIDTH, carry_result, grasp_point, peg_grasp_action, peg_held

SUCCESS_DISTANCE = 0.02
#: how deep the head starts inside the socket, how far it is pulled, the socket's centre height
INSERTED, PULL, SOCKET_HEIGHT = 0.13, 0.15, 0.1
#: the peg's centre lies this far behind its head (peg.xml); the peg rests on the socket's floor
PEG_HALF_LENGTH, PLAY = 0.12, 0.002
#: the fingertips take the peg this far behind its head: 3 cm of it outside the mouth, 6 cm in front of the tail
GRASP_BEHIND_HEAD = 0.18


def _initial_terms(init_obs):
    return distance(init_obs[..., OBJ1], init_obs[..., GOAL])


class PegUnplugSide(PolytaskEnv):
    name = "peg-unplug-side"
    object_sites = ("peg/head", "socket/mouth")
    success_description = "peg head pulled out of its socket to within 2 cm of the goal 15 cm from its start"
    MOUTH_LOW, MOUTH_HIGH = np.array([-0.15, 0.82]), np.array([0.15, 0.88])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "peg", "peg/")
        world.attach(spec, "socket", "socket/")

    def reset_task(self, rng):
        mouth = rng.uniform(self.MOUTH_LOW, self.MOUTH_HIGH)
        self.set_body_pos("socket/socket", [mouth[0], mouth[1], 0.0])
        head_y = mouth[1] + INSERTED
        self.set_free_pose("peg/peg", [mouth[0], head_y - PEG_HALF_LENGTH, SOCKET_HEIGHT - PLAY])
        self.goal = np.array([mouth[0], head_y - PULL, SOCKET_HEIGHT - PLAY])

    def evaluate(self, obs, action):
        to_goal = distance(obs[..., OBJ1], obs[..., GOAL])
        in_place = closeness(to_goal, self.from_init(_initial_terms), SUCCESS_DISTANCE)
        grasp_at = grasp_point(obs, GRASP_BEHIND_HEAD)
        hand_to_grasp = distance(obs[..., HAND], grasp_at)
        held = peg_held(obs, grasp_at, hand_to_grasp)
        return carry_result(obs, hand_to_grasp, held, PEG_HALF_WIDTH, to_goal, in_place, SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        """Come down open over the peg's outer part, close on it, pull it straight out past the goal."""
        return peg_grasp_action(obs, grasp_point(obs, GRASP_BEHIND_HEAD), lambda o, held: o[GOAL] - np.array([0.0, 0.03, 0.0]))


register_task(PegUnplugSide)
