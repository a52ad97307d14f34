"""ARM-CML: contextual meta-learning (Zhang et al., "Adaptive Risk Minimization", NeurIPS 2021, Sec. 4.1).

A context net maps every example of the unlabeled batch to a context image
(``context_channels`` x 16 x 16); their average over the batch, the same for
every example, is concatenated to each input as extra channels before the
prediction model (the ARM repo's ``ARM_CML.predict``).  The average makes the
adaptation permutation invariant and lets it use any batch size; the context
net and the model are trained together, end to end, on sub-batches of one
group each, so the context learns to summarize what the group shares.
"""

from __future__ import annotations

import torch
from torch import Tensor

from meta.adaptation.config import ARMCMLConfig
from meta.adaptation.method import GroupShiftMethod
from meta.adaptation.networks import ContextNet, Stats

__all__ = ["ARMCML"]


class ARMCML(GroupShiftMethod):
    sampling = "groups"

    def __init__(self, config: ARMCMLConfig, classes: int, train_groups: int) -> None:
        super().__init__(config, classes, train_groups)
        self.context_net = ContextNet(1, config.context_channels, config.context_hidden)

    def input_channels(self) -> int:
        return 1 + self.config.context_channels

    def context(self, x: Tensor, stats: Stats) -> Tensor:
        """Each group's context: the per-example contexts averaged over the group, (groups, C, 16, 16)."""
        return self.context_net(x, stats).mean(dim=1)

    def logits(self, x: Tensor, stats: Stats) -> Tensor:
        context = self.context(x, stats).unsqueeze(1).expand(-1, x.shape[1], -1, -1, -1)
        return self.net(torch.cat([x, context], dim=2), stats)
