"""plate-slide-back-side: slide a plate out of a cabinet on the left, back to the middle.

Meta-World's plate-slide-back-side-v3 (Yu et al., 2019) in our world, on the shared
plate-slide pieces (``envs.tasks._plate``: plate, reward, success, expert).

Reset: the plate at x, y = -0.25, 0.6 (fixed, as in Meta-World); the goal on the
table at x ∈ [-0.05, 0.15], y = 0.6
(Meta-World's ranges).
Success: the plate's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._plate import PlateSlide


class PlateSlideBackSide(PlateSlide):
    name = "plate-slide-back-side"
    PLATE_START = np.array([-0.25, 0.6])
    GOAL_LOW, GOAL_HIGH = np.array([-0.05, 0.6]), np.array([0.15, 0.6])


register_task(PlateSlideBackSide)
