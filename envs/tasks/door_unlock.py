"""door-unlock: turn a door's lock lever up from pointing down to pointing right.

Meta-World's door-unlock-v3 (Yu et al., 2019): door-lock's door, the lever
starting locked.

Reset: the door at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.85] (Meta-World's range),
the lever pointing down (locked); the goal is the peg with the lever pointing
right (9 cm higher and 9 cm to the right), as Meta-World's unlock target lies
10 cm to the right of the lever's start. obs[4:7] is the peg's centre,
obs[7:11] the lever's orientation.
Reward: the shared turning reward (``envs.tasks._turning``).
Success: the peg within 2 cm of the goal (Meta-World's 0.02).
"""

from __future__ import annotations

from envs.registry import register_task
from envs.tasks.door_lock import LOCKED, UNLOCKED, DoorLock


class DoorUnlock(DoorLock):
    name = "door-unlock"
    success_description = "lock lever's peg within 2 cm of its unlocked position (pointing right)"
    START, FINAL = LOCKED, UNLOCKED


register_task(DoorUnlock)
