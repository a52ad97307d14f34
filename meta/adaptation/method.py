"""What a group-shift method is to the learner that trains and evaluates it.

A method is an ``nn.Module`` holding every parameter it learns.  The learner
draws training batches as ``sampling`` says (``meta.adaptation.batches``), calls
``training_loss`` and steps one Adam over ``parameters()``; at evaluation it
calls ``predict`` on one unlabeled batch of one group, shape (1, examples,
1, 16, 16), under ``torch.no_grad`` and in eval mode; a method that adapts
with gradients at test time enables them itself.

The base class is ERM's network and loss; the methods override where they differ.
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from meta.adaptation.batches import Sampling
from meta.adaptation.config import GroupShiftConfig
from meta.adaptation.networks import ConvNet, Stats

__all__ = ["GroupShiftMethod", "cross_entropy"]


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over every example of (groups, examples, classes) logits."""
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten())


class GroupShiftMethod(nn.Module):
    #: how the learner draws training batches
    sampling: ClassVar[Sampling] = "groups"
    #: batch-norm statistics in training and at test time (``meta.adaptation.networks``)
    train_stats: ClassVar[Stats] = "batch"
    test_stats: ClassVar[Stats] = "running"

    def __init__(self, config: GroupShiftConfig, classes: int, train_groups: int) -> None:
        super().__init__()
        self.config, self.classes, self.train_groups = config, classes, train_groups
        self.net = ConvNet(self.input_channels(), classes, config.width)

    def input_channels(self) -> int:
        return 1

    def logits(self, x: Tensor, stats: Stats) -> Tensor:
        return self.net(x, stats)

    def forward(self, x: Tensor, stats: Stats) -> Tensor:
        return self.logits(x, stats)

    def training_loss(self, x: Tensor, labels: Tensor, groups: Tensor, updates: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss to minimize on one batch (x: groups, examples, 1, 16, 16) and metrics to log."""
        return cross_entropy(self.logits(x, self.train_stats), labels), {}

    def predict(self, x: Tensor) -> Tensor:
        """Logits for one unlabeled batch of one group, after whatever adaptation the method does."""
        return self.logits(x, self.test_stats)
