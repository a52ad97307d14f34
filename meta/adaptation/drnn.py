"""DRNN: group distributionally robust optimization (Sagawa, Koh, Hashimoto & Liang, ICLR 2020, Algorithm 1).

The objective is the loss of the worst mixture of training groups.  The online
algorithm keeps a weight ``q_g`` per group: every update it ascends on them
by exponentiated gradient, ``q_g <- q_g exp(eta * loss_g)`` then renormalized,
and descends on the model with the ``q``-weighted group losses.  Batches are
sub-batches of one group each (a group absent from a batch has loss 0 and so
keeps its weight, as in the authors' code); eta = 0.01 as in the ARM repo.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from meta.adaptation.config import DRNNConfig
from meta.adaptation.method import GroupShiftMethod

__all__ = ["DRNN"]


class DRNN(GroupShiftMethod):
    sampling = "groups"

    def __init__(self, config: DRNNConfig, classes: int, train_groups: int) -> None:
        super().__init__(config, classes, train_groups)
        # a buffer: saved and restored with the model, never touched by the optimizer
        self.register_buffer("group_weights", torch.full((train_groups,), 1.0 / train_groups))

    def training_loss(self, x: Tensor, labels: Tensor, groups: Tensor, updates: int) -> tuple[Tensor, dict[str, Tensor]]:
        losses = F.cross_entropy(self.logits(x, self.train_stats).flatten(0, 1), labels.flatten(), reduction="none")
        group_of = groups.flatten()
        totals = torch.zeros(self.train_groups, device=x.device).index_add_(0, group_of, losses)
        counts = torch.bincount(group_of, minlength=self.train_groups).to(losses.dtype)
        group_losses = totals / counts.clamp(min=1)
        with torch.no_grad():
            weights = self.group_weights * torch.exp(self.config.robust_step_size * group_losses)
            self.group_weights.copy_(weights / weights.sum())
        return group_losses @ self.group_weights, {"charts/max_group_weight": self.group_weights.max()}
