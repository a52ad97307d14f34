"""ARM-LL: a learned loss (Zhang et al., "Adaptive Risk Minimization", NeurIPS 2021, Sec. 4.3).

The model adapts to an unlabeled batch by ``inner_steps`` SGD steps (lr 0.1,
as in the ARM repo) on a learned unsupervised loss of the batch's logits
(``networks.LearnedLoss``), then predicts the batch with the adapted weights.
Meta-training minimizes the labeled loss after adaptation, differentiating
through the inner step (second order, unless ``first_order``), so both the
model's initial weights and the learned loss are meta-learned.  The inner
step is the project's functional inner loop (``meta.inner_loop``), vmapped
over the meta-batch's groups; batch norm takes each group's own statistics,
as the ARM repo's model does (it runs every group in training mode).
"""

from __future__ import annotations

from torch import Tensor, nn

from meta.adaptation.config import ARMLLConfig
from meta.adaptation.method import GroupShiftMethod, cross_entropy
from meta.adaptation.networks import ConvNet, LearnedLoss, Stats
from meta.inner_loop import InnerLoop

__all__ = ["ARMLL"]


class _OneGroup(nn.Module):
    """The conv net on one group's batch (examples, 1, 16, 16), with that batch's statistics."""

    def __init__(self, net: ConvNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.unsqueeze(0), "group").squeeze(0)


class ARMLL(GroupShiftMethod):
    sampling = "groups"

    def __init__(self, config: ARMLLConfig, classes: int, train_groups: int) -> None:
        super().__init__(config, classes, train_groups)
        self.learned_loss = LearnedLoss(classes, config.loss_hidden)
        model = _OneGroup(self.net)
        self.inner = InnerLoop(model, [n for n, _ in model.named_parameters()], steps=config.inner_steps,
                               lr_init=config.inner_lr, learn_lr=False, loss=self._unsupervised_loss)

    def _unsupervised_loss(self, logits: Tensor, _unused_labels: Tensor) -> Tensor:
        return self.learned_loss(logits)

    def logits(self, x: Tensor, stats: Stats) -> Tensor:
        # the learned loss sees no labels: the inner loop's targets are placeholders
        placeholder = x.new_zeros(x.shape[:2])
        adapted = self.inner.batch_adapt(x, placeholder, first_order=self.config.first_order)
        return self.inner.batch_predict(adapted, x)

    def training_loss(self, x: Tensor, labels: Tensor, groups: Tensor, updates: int) -> tuple[Tensor, dict[str, Tensor]]:
        return cross_entropy(self.logits(x, "group"), labels), {}
