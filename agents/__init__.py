"""Multi-task RL: task-conditioned networks, a task-balanced replay buffer,
gradient surgery (PCGrad, CAGrad, FAMO) and the multi-task SAC learner."""

from agents.buffer import TaskBalancedReplayBuffer, TransitionBatch
from agents.mtsac import MTSAC, MTSACConfig
from agents.surgery import SURGERIES, GradientSurgery, make_surgery

__all__ = ["MTSAC", "SURGERIES", "GradientSurgery", "MTSACConfig", "TaskBalancedReplayBuffer", "TransitionBatch", "make_surgery"]
