"""plate-slide: slide a plate into a cabinet at the back of the table.

Meta-World's plate-slide-v3 (Yu et al., 2019) in our world, on the shared
plate-slide pieces (``envs.tasks._plate``: plate, reward, success, expert).

Reset: the plate at x, y = 0.0, 0.6 (fixed, as in Meta-World); the goal on the
table at x ∈ [-0.1, 0.1], y ∈ [0.85, 0.9]
(Meta-World's ranges).
Success: the plate's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._plate import PlateSlide


class PlateSlide(PlateSlide):
    name = "plate-slide"
    PLATE_START = np.array([0.0, 0.6])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.85]), np.array([0.1, 0.9])


register_task(PlateSlide)
