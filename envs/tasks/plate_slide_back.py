"""plate-slide-back: slide a plate out of a cabinet at the back, towards the robot.

Meta-World's plate-slide-back-v3 (Yu et al., 2019) in our world, on the shared
plate-slide pieces (``envs.tasks._plate``: plate, reward, success, expert).

Reset: the plate at x, y = 0.0, 0.85 (fixed, as in Meta-World); the goal on the
table at x ∈ [-0.1, 0.1], y = 0.6
(Meta-World's ranges).
Success: the plate's centre within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks._plate import PlateSlide


class PlateSlideBack(PlateSlide):
    name = "plate-slide-back"
    PLATE_START = np.array([0.0, 0.85])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.6])


register_task(PlateSlideBack)
