"""window-close: slide an open window's sash shut by pushing its handle.

The task of Meta-World's ``window-close`` (Yu et al., 2019) on the ``window``
piece; the reward, success test and expert are :class:`WindowSlide`'s (see
``window_open``), run in the -x direction.

Reset: the frame at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.95], the sash fully open
(20 cm); the goal is the handle's position when shut (20 cm along -x).
obs[4:7] is the handle's centre.
Reward: 10 · hamacher(reach the handle, handle near the shut position).
Success: the handle within 5 cm of the goal along x (Meta-World's 0.05).
"""

from __future__ import annotations

from envs.registry import register_task
from envs.tasks.window_open import SUCCESS_DISTANCE, WindowSlide


class WindowClose(WindowSlide):
    name = "window-close"
    direction = -1.0
    success_description = f"window handle within {SUCCESS_DISTANCE * 100:.0f} cm of the shut position (along x)"


register_task(WindowClose)
