"""button-press-wall: press a button that faces the robot from behind a wall.

Meta-World's button-press-wall-v3 (Yu et al., 2019) in our world:
button-press's turned ``button`` piece behind the fixed wall of
``envs.tasks._wall`` (x ∈ [-0.02, 0.22] at y = 0.75, 12 cm high), which
covers the cap's right half or more, so the hand goes over the wall and down
into the gap between the wall and the cap.

Reset: the housing's back at x ∈ [-0.05, 0.05] (Meta-World's range),
y ∈ [0.97, 1.02]: 12 cm further back than Meta-World's y ∈ [0.85, 0.9]
because our hand starts 20 cm further forward and our wall stands at 0.75;
the cap (y ∈ [0.82, 0.87]) is then 6-11 cm behind the wall, as Meta-World's
is 5-10 cm. The goal is the cap's face when fully pressed.
Reward: the shared press reward (``envs.tasks._button``) along y.
Success: the cap's face within 3 cm of the pressed position along y
(Meta-World's 0.03 for this task), i.e. the button pressed at least 2 cm.
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._common import CLOSE, HAND, OBJ1, move
from envs.tasks._wall import CLEARANCE, WALL_CENTER, WALL_HALF_THICKNESS, WALL_HEIGHT, attach_wall
from envs.tasks.button_press import ButtonPress

SUCCESS_DEPTH = 0.03
#: the wall's face on the button's side
WALL_BACK = WALL_CENTER[1] + WALL_HALF_THICKNESS


class ButtonPressWall(ButtonPress):
    name = "button-press-wall"
    success_description = f"button cap behind a wall within {SUCCESS_DEPTH * 100:.0f} cm of its fully pressed position (y)"
    BOX_LOW, BOX_HIGH = np.array([-0.05, 0.97]), np.array([0.05, 1.02])
    SUCCESS_DEPTH = SUCCESS_DEPTH

    @classmethod
    def build(cls, spec):
        super().build(spec)
        attach_wall(spec)

    @staticmethod
    def expert(obs):
        hand, cap = obs[HAND], obs[OBJ1]
        gap = np.array([cap[0], (WALL_BACK + cap[1]) / 2, cap[2]])
        over = WALL_HEIGHT + CLEARANCE
        if hand[1] < WALL_BACK + 0.01:
            # still in front of the wall: up above it first, then across to over the gap
            if hand[2] < over - 0.01:
                return move(hand, np.array([hand[0], min(hand[1], WALL_CENTER[1] - CLEARANCE), over + 0.01]), CLOSE)
            return move(hand, np.array([gap[0], gap[1], max(over, hand[2])]), CLOSE)
        # in the gap: down to the cap's height, then push it away
        if abs(hand[2] - cap[2]) > 0.01 or abs(hand[0] - cap[0]) > 0.01:
            return move(hand, gap, CLOSE)
        return move(hand, cap + np.array([0.0, 0.06, 0.0]), CLOSE)


register_task(ButtonPressWall)
