"""TENT: test-time entropy minimization (Wang, Shelhamer, Liu, Olshausen & Darrell, ICLR 2021, Sec. 3).

Trained as ERM.  At test time, on each unlabeled batch, batch norm uses the
batch's statistics (as BN-adapt) and its affine parameters (scale and shift,
the only parameters TENT changes) take ``tent_steps`` Adam steps (lr 1e-3,
the paper's CIFAR setting) on the mean entropy of the batch's predictions;
the prediction is made with the updated parameters.  Here every batch starts
again from the trained parameters (TENT's "episodic" mode): the test batches
of different groups come in no meaningful order, so carrying updates from one
group's batch to the next would mix groups.  The functional call keeps the
trained parameters untouched.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import functional_call

from meta.adaptation.method import GroupShiftMethod

__all__ = ["TENT", "entropy"]


def entropy(logits: Tensor) -> Tensor:
    """Mean Shannon entropy of the softmax predictions."""
    log_probs = logits.log_softmax(dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1).mean()


class TENT(GroupShiftMethod):
    sampling = "examples"
    test_stats = "group"

    def affine_names(self) -> list[str]:
        return [f"net.{name}" for name, _ in self.net.named_parameters() if ".norms." in name]

    def predict(self, x: Tensor) -> Tensor:
        params = dict(self.named_parameters())
        affine = {n: params[n].detach().clone().requires_grad_(True) for n in self.affine_names()}
        optimizer = torch.optim.Adam(affine.values(), lr=self.config.tent_lr)

        def logits() -> Tensor:
            return functional_call(self, affine, (x, self.test_stats), strict=False)

        with torch.enable_grad():
            for _ in range(self.config.tent_steps):
                optimizer.zero_grad(set_to_none=True)
                entropy(logits()).backward()
                optimizer.step()
        with torch.no_grad():
            return logits()
