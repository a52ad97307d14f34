"""peg-insert-side: pick up a peg lying on the table and push it sideways into a hole.

Meta-World's peg-insert-side (Yu et al., 2019, CoRL, "Meta-World", its v2 reward
``sawyer_peg_insertion_side``), turned to our gripper: the fingers close along
x, so the peg lies along y and goes into a hole in the -y face of a fixed box.

Reset: the peg (24 cm long, 3 cm square, axis along +y, its head towards the
box) lies with its centre in x ∈ [-0.15, 0.15], y ∈ [0.5, 0.6]; the box's hole
mouth is in x ∈ [-0.15, 0.15], y ∈ [0.82, 0.88], 10 cm above the table. The
goal is the point 8 cm deep inside the hole (the hole is 5 cm square, 10 cm
deep). obs[4:7] is the peg's head, obs[11:14] the hole's mouth.
Success: the peg head within 7 cm of the goal, distance measured with the
across-hole axes (x, z) weighted 2 and the insertion axis (y) weighted 1, as
in Meta-World; from outside the box the head cannot get that close, so
success means the head is at least 1 cm inside the hole.
Reward (Meta-World v2's shape): in_place = long-tail tolerance of that scaled
distance (margin: its initial value); grasp = how well the hand cages the
peg's grasp point; reward = hamacher(grasp, in_place), plus 1 + 5 · in_place
while the peg is held off the table; 10 on success.
"""

from __future__ import annotations

import math
import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.rewards import clip, distance, grasp_reward, hamacher_product, norm, select, tolerance_margin_array
from envs.tasks._common import CLOSE, GRIPPER, HAND, OBJ1, OBJ2, OPEN, QUAT1, component, info, move

SUCCESS_DISTANCE = 0.07
#: weights of (x, y, z) in the head-to-goal distance: off-axis error costs double
AXIS_SCALE = np.array([2.0, 1.0, 2.0])
#: the goal lies this far inside the hole's mouth, along +y
GOAL_DEPTH = 0.08
#: the goal from the hole's site: GOAL_DEPTH in along the insertion axis
GOAL_OFFSET = np.array([0.0, GOAL_DEPTH, 0.0])
#: the grasp point lies this far behind the head along the peg (3 cm behind its centre)
GRASP_BEHIND_HEAD = 0.15
PEG_HALF_WIDTH = 0.015
HOLE_HEIGHT = 0.1
#: gripper openings while the fingers hold the 3 cm peg (open is 1, empty-closed 0, on the peg 0.225)
HOLD_OPENING = (0.1, 0.5)
#: below this opening, freshly closed fingers grip the peg well enough to lift it
GRIPPED_OPENING = 0.26


def peg_axis(quat: np.ndarray) -> np.ndarray:
    """The peg's local +y axis in world coordinates, from its (w, x, y, z) quaternion."""
    if quat.ndim == 1:  # one world: float arithmetic, without numpy's per-call cost
        w, x, y, z = quat.tolist()
        return np.array([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)])
    w, x, y, z = (quat[..., i] for i in range(4))
    return np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], axis=-1)


def grasp_point(obs: np.ndarray, behind_head: float = GRASP_BEHIND_HEAD) -> np.ndarray:
    """Where the fingertips take the peg: on its axis, ``behind_head`` behind the head."""
    return obs[..., OBJ1] - behind_head * peg_axis(obs[..., QUAT1])


def peg_held(obs: np.ndarray, grasp: np.ndarray, hand_to_grasp=None) -> np.ndarray:
    """The hand is at the grasp point, the fingers closed on the peg and the peg off the table.

    ``grasp`` is ``grasp_point(obs)``; ``hand_to_grasp`` the fingertips'
    distance to it, where the caller has it already.
    """
    if hand_to_grasp is None:
        hand_to_grasp = distance(obs[..., HAND], grasp)
    near = hand_to_grasp < 0.03
    on_peg = (component(obs, GRIPPER) > HOLD_OPENING[0]) & (component(obs, GRIPPER) < HOLD_OPENING[1])
    lifted = component(grasp, 2) > PEG_HALF_WIDTH + 0.01
    return near & on_peg & lifted


def scaled_distance(point, goal, scale: np.ndarray):
    """Axis-weighted point-to-goal distance; broadcasts over leading axes."""
    return norm((point - goal) * scale)


def scaled_in_place(point, goal, margin, scale: np.ndarray, radius: float):
    """Axis-weighted point-to-goal distance and its long-tail tolerance (1 within ``radius``).

    ``margin`` is ``scaled_margin`` of the weighted distance at the start, as
    in Meta-World v2's insertion and basketball rewards. Returns ``(distance,
    in_place)``.
    """
    dist = scaled_distance(point, goal, scale)
    return dist, tolerance_margin_array(dist, (0.0, radius), margin)


def scaled_margin(initial_distance):
    """The in-place margin from the initial weighted distance (kept positive)."""
    return clip(initial_distance, 1e-6, math.inf)


def _in_place_margin(init_obs):
    return scaled_margin(scaled_distance(init_obs[..., OBJ1], init_obs[..., OBJ2] + GOAL_OFFSET, AXIS_SCALE))


def carry_reward(grasp, in_place, held):
    """Meta-World v2's grasp-and-carry shaping: hamacher(grasp, in_place), plus 1 + 5 · in_place while held (at most 7)."""
    return hamacher_product(grasp, in_place) + select(held, 1.0 + 5.0 * in_place, 0.0)


def carry_result(obs, hand_to_grasp, held, object_half_width, to_goal, in_place, success_distance):
    """Reward and info of a grasp-and-carry task (peg-insert-side, basketball).

    Grasp term 1 while the object is held, else how well the hand cages it;
    10 on success (``to_goal <= success_distance``), else ``carry_reward``.
    """
    grasp = select(held, 1.0, grasp_reward(hand_to_grasp, component(obs, GRIPPER), object_half_width))
    success = to_goal <= success_distance
    reward = select(success, 10.0, carry_reward(grasp, in_place, held))
    return reward, info(
        success,
        near_object=hand_to_grasp <= 0.03,
        grasp_success=held,
        grasp_reward=grasp,
        in_place_reward=in_place,
        obj_to_target=to_goal,
        unscaled_reward=reward,
    )


class PegInsertSide(PolytaskEnv):
    name = "peg-insert-side"
    object_sites = ("peg/head", "hole_box/hole")
    success_description = (
        f"peg head within {SUCCESS_DISTANCE * 100:.0f} cm of the goal {GOAL_DEPTH * 100:.0f} cm inside the hole "
        "(x, z weighted 2, insertion axis y weighted 1)"
    )
    PEG_LOW, PEG_HIGH = np.array([-0.15, 0.5]), np.array([0.15, 0.6])
    HOLE_LOW, HOLE_HIGH = np.array([-0.15, 0.82]), np.array([0.15, 0.88])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "peg", "peg/")
        world.attach(spec, "hole_box", "hole_box/")

    def reset_task(self, rng):
        peg = rng.uniform(self.PEG_LOW, self.PEG_HIGH)
        hole = rng.uniform(self.HOLE_LOW, self.HOLE_HIGH)
        self.set_free_pose("peg/peg", [peg[0], peg[1], PEG_HALF_WIDTH])
        self.set_body_pos("hole_box/hole_box", [hole[0], hole[1], 0.0])
        self.goal = np.array([hole[0], hole[1] + GOAL_DEPTH, HOLE_HEIGHT])

    def evaluate(self, obs, action):
        # the goal from the hole's pose (obs[11:14]) so the reward holds when the goal is hidden
        head_to_goal, in_place = scaled_in_place(
            obs[..., OBJ1], obs[..., OBJ2] + GOAL_OFFSET, self.from_init(_in_place_margin), AXIS_SCALE, SUCCESS_DISTANCE
        )
        grasp_at = grasp_point(obs)
        hand_to_grasp = distance(obs[..., HAND], grasp_at)
        held = peg_held(obs, grasp_at, hand_to_grasp)
        return carry_result(obs, hand_to_grasp, held, PEG_HALF_WIDTH, head_to_goal, in_place, SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        """Grasp the peg behind its head, lift it, line the head up with the hole, push it in."""

        def insert(obs, held):
            # carrying: line the head up 4 cm before the mouth, then push it in
            head, mouth = obs[OBJ1], obs[OBJ2]
            lateral = np.abs(head[[0, 2]] - mouth[[0, 2]]).max()
            aligned = lateral < (0.006 if head[1] < mouth[1] else 0.012)
            head_target = mouth + (np.array([0.0, GOAL_DEPTH + 0.01, 0.0]) if aligned else np.array([0.0, -0.04, 0.0]))
            if not held:
                head_target = head + np.array([0.0, 0.0, 0.05])  # just closed: lift first
            return head_target

        return peg_grasp_action(obs, grasp_point(obs), insert)


def peg_grasp_action(obs, grasp, head_target_of):
    """A peg expert: take the peg at ``grasp``, then move its head to ``head_target_of(obs, held)``.

    Phases from positions alone: holding the peg (``held``), or just closed on
    it at the grasp point (not yet ``held`` while it is still down) -> carry;
    away from the grasp point -> hover 10 cm above it, open; above it ->
    descend, open; down at it -> close.
    """
    hand = obs[HAND]
    held = peg_held(obs, grasp)
    if held or (np.linalg.norm(hand - grasp) < 0.012 and obs[GRIPPER] < GRIPPED_OPENING):
        return move(hand, hand + head_target_of(obs, held) - obs[OBJ1], CLOSE)
    if np.linalg.norm(hand[:2] - grasp[:2]) > 0.012:
        return move(hand, grasp + np.array([0.0, 0.0, 0.1]), OPEN)
    if hand[2] - grasp[2] > 0.004:
        return move(hand, grasp + np.array([0.0, 0.0, -0.005]), OPEN)
    return move(hand, grasp, CLOSE)


register_task(PegInsertSide)
