"""DANN: domain-adversarial training (Ganin, Ustinova, Ajakan et al., JMLR 2016, Sec. 3-4).

A group classifier (the "domain" classifier, here over the training groups,
as the ARM paper runs it) learns to tell the groups apart from the features;
the features learn to defeat it through a gradient reversal layer: identity
forward, gradient times ``-lambda`` backward (their eq. 13-14).  ``lambda``
follows the paper's schedule ``2 / (1 + exp(-10 p)) - 1`` over training
progress ``p``, here reaching ``domain_weight`` after ``ramp_updates``, so the
noisy early discriminator does not drown the classification signal.  The
discriminator is the ARM repo's: 2 hidden layers of 256.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from meta.adaptation.config import DANNConfig
from meta.adaptation.method import GroupShiftMethod

__all__ = ["DANN", "reverse_gradient"]


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: float) -> Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.weight * grad, None


def reverse_gradient(x: Tensor, weight: float) -> Tensor:
    """``x`` forward; ``-weight`` times the incoming gradient backward."""
    return _ReverseGradient.apply(x, weight)


class DANN(GroupShiftMethod):
    sampling = "groups"

    def __init__(self, config: DANNConfig, classes: int, train_groups: int) -> None:
        super().__init__(config, classes, train_groups)
        features = self.net.num_features
        self.discriminator = nn.Sequential(nn.Linear(features, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                           nn.Linear(256, train_groups))

    def reversal_weight(self, updates: int) -> float:
        progress = min(1.0, updates / self.config.ramp_updates)
        return self.config.domain_weight * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)

    def training_loss(self, x: Tensor, labels: Tensor, groups: Tensor, updates: int) -> tuple[Tensor, dict[str, Tensor]]:
        features = self.net.features(x, self.train_stats)
        class_loss = F.cross_entropy(self.net.out(features).flatten(0, 1), labels.flatten())
        weight = self.reversal_weight(updates)
        group_logits = self.discriminator(reverse_gradient(features.flatten(0, 1), weight))
        group_loss = F.cross_entropy(group_logits, groups.flatten())
        return class_loss + group_loss, {"losses/class": class_loss.detach(), "losses/group_classifier": group_loss.detach()}
