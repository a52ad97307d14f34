"""soccer: roll a ball along the table into a small goal.

Meta-World's soccer-v3 (Yu et al., 2019) in our world: basketball's ball
(radius 3 cm, rolling friction so that it comes to rest) and the
``soccer_goal`` piece, open towards the robot.

Reset: the ball on the table at x ∈ [-0.1, 0.1], y ∈ [0.6, 0.7]; the goal's
centre at x ∈ [-0.1, 0.1], y ∈ [0.8, 0.9], both redrawn until they are 15 cm
or more apart (Meta-World's ranges and redraw). The goal point is the centre
of the goal's floor at the ball's centre height (the mouth is 5 cm in front
of it). obs[4:7] is the ball's centre.
Reward: push's (``envs.tasks.push.object_reward``): 2 · reach + 8 ·
hamacher(reach, in_place), long-tail tolerances of the fingertip-to-ball and
ball-to-goal distances; 10 on success.
Success: the ball's centre within 7 cm of the goal point (Meta-World's
TARGET_RADIUS of 0.07): in the goal or at its mouth.
"""

from __future__ import annotations

import numpy as np

from envs import world
from envs.base import PolytaskEnv
from envs.registry import register_task
from envs.tasks._common import CLOSE, GOAL, HAND, OBJ1, horizontal_distance, move
from envs.tasks.push import draw_apart, initial_distances, push_evaluate

SUCCESS_DISTANCE = 0.07
BALL_RADIUS = 0.03
#: the expert's fingertips stand this far behind the ball's centre before pushing, and this low
PUSH_STANDOFF, PUSH_HEIGHT = 0.055, 0.012
#: above this height the hand passes over the ball
CLEAR_HEIGHT = 0.09


class Soccer(PolytaskEnv):
    name = "soccer"
    object_sites = ("ball/ball",)
    success_description = "ball centre within 7 cm of the goal's centre (in the goal or at its mouth)"
    BALL_LOW, BALL_HIGH = np.array([-0.1, 0.6]), np.array([0.1, 0.7])
    GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.8]), np.array([0.1, 0.9])

    @classmethod
    def build(cls, spec):
        world.attach(spec, "ball", "ball/")
        world.attach(spec, "soccer_goal", "goal/", pos=(0.0, 0.85, 0.0))

    def reset_task(self, rng):
        ball, goal = draw_apart(rng, self.BALL_LOW, self.BALL_HIGH, self.GOAL_LOW, self.GOAL_HIGH, 0.15)
        self.set_free_pose("ball/ball", [ball[0], ball[1], BALL_RADIUS])
        self.set_body_pos("goal/goal", [goal[0], goal[1], 0.0])
        self.goal = np.array([goal[0], goal[1], BALL_RADIUS])

    def evaluate(self, obs, action):
        return push_evaluate(obs, self.from_init(initial_distances), SUCCESS_DISTANCE)

    @staticmethod
    def expert(obs):
        hand, ball, goal = obs[HAND], obs[OBJ1], obs[GOAL]
        heading = (goal - ball)[:2]
        heading = np.array([*(heading / max(np.linalg.norm(heading), 1e-6)), 0.0])
        behind = ball - PUSH_STANDOFF * heading
        behind[2] = PUSH_HEIGHT
        away = horizontal_distance(hand, behind)
        if away > 0.015:
            # up out of the ball's way when low and near it or far from behind it, across above
            # it, then down behind it
            low = hand[2] < CLEAR_HEIGHT - 0.01
            if low and (horizontal_distance(hand, ball) < PUSH_STANDOFF + 0.03 or away > 0.03):
                return move(hand, np.array([hand[0], hand[1], CLEAR_HEIGHT]), CLOSE)
            return move(hand, np.array([behind[0], behind[1], max(CLEAR_HEIGHT, hand[2]) if away > 0.03 else PUSH_HEIGHT]), CLOSE)
        if abs(hand[2] - PUSH_HEIGHT) > 0.01:
            return move(hand, behind, CLOSE)
        # roll it steadily towards the goal point, the hand following behind
        return move(hand, ball + 0.02 * heading - np.array([0.0, 0.0, BALL_RADIUS - PUSH_HEIGHT]), CLOSE, gain=10.0)


register_task(Soccer)
