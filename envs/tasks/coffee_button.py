"""coffee-button: press the button on the front of a coffee machine, pushing it away (+y).

Meta-World's coffee-button-v3 (Yu et al., 2019) in our world: button-press's
turned ``button`` piece mounted high on a machine body (a 10 x 8 cm column
from the table up to the housing), so the button is pressed at 28 cm, above
the hand's start, where button-press's is below it.

Reset: the machine's back at x ∈ [-0.1, 0.1], y ∈ [0.9, 0.95]: behind
Meta-World's range (y ∈ [0.8, 0.9]) because our button stands 15 cm deep, so
that the cap (at y ∈ [0.75, 0.8]) is not within a random walk of the hand's
start (with Meta-World's range, 5 of 50 random episodes pressed it); the goal is the cap's face when fully pressed (5 cm further from the robot
than at rest). obs[4:7] is the centre of the cap's face.
Reward: the shared press reward (``envs.tasks._button``) along y.
Success: the cap's face within 2 cm of the pressed position along y
(Meta-World's 0.02).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks.button_press import ButtonPress


class CoffeeButton(ButtonPress):
    name = "coffee-button"
    BOX_LOW, BOX_HIGH = np.array([-0.1, 0.9]), np.array([0.1, 0.95])
    HOUSING_HEIGHT, STAND_RGBA, STAND_HALF = 0.28, (0.55, 0.30, 0.20, 1.0), (0.06, 0.05)


register_task(CoffeeButton)
