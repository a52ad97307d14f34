"""faucet-close: turn a faucet's handle a quarter turn to the left (clockwise).

Meta-World's faucet-close-v3 (Yu et al., 2019): faucet-open's faucet turned
the other way.

Reset: the faucet at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.85] (Meta-World's range);
the goal is the handle's end after a quarter turn, 17.5 cm to the axis's left
(-x). obs[4:7] is the handle's end, obs[7:11] the head's orientation.
Reward: the shared turning reward (``envs.tasks._turning``).
Success: the handle's end within 7 cm of the goal (Meta-World's 0.07).
"""

from __future__ import annotations

import numpy as np

from envs.registry import register_task
from envs.tasks.faucet_open import FaucetOpen


class FaucetClose(FaucetOpen):
    name = "faucet-close"
    success_description = "faucet handle's end within 7 cm of its position a quarter turn to the left"
    BASE_LOW, BASE_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.85])
    DIRECTION = -1.0


register_task(FaucetClose)
