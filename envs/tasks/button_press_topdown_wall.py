"""button-press-topdown-wall: press a button straight down, behind a wall.

Meta-World's button-press-topdown-wall-v3 (Yu et al., 2019) in our world:
button-press-topdown's button box behind the fixed wall of
``envs.tasks._wall`` (x ∈ [-0.02, 0.22] at y = 0.75, 12 cm high). As in
Meta-World the wall blocks a low approach; the hand reaches the cap over it.

Reset: the button box at x ∈ [-0.1, 0.1] (Meta-World's range),
y ∈ [0.85, 0.95]: Meta-World's y ∈ [0.8, 0.9] moved 5 cm back, as far as our
wall stands further back than its (0.75 against 0.7), so that the box's
12 cm footprint clears the wall. The goal is the cap's top when fully pressed.
Reward: the shared press reward (``envs.tasks._button``) along z.
Success: the cap's top within 2.4 cm of the pressed depth along z
(Meta-World's 0.024).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._wall import attach_wall
from envs.tasks.button_press_topdown import ButtonPressTopdown


class ButtonPressTopdownWall(ButtonPressTopdown):
    name = "button-press-topdown-wall"
    success_description = "button cap behind a wall within 2.4 cm of its fully pressed depth (z)"
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.95])

    @classmethod
    def build(cls, spec):
        super().build(spec)
        attach_wall(spec)


register_task(ButtonPressTopdownWall)
