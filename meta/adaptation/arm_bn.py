"""ARM-BN (Zhang et al., "Adaptive Risk Minimization", NeurIPS 2021, Sec. 4.2).

The simplest ARM: the model's batch norm always normalizes with the
statistics of the batch it is given, a batch being one group's examples.  In
training every sub-batch of a meta-batch is one group and normalizes with its
own statistics (the "adaptation" is computing them); at test time the
unlabeled test batch of a group does the same.  Unlike BN-adapt, the model is
trained the way it is tested.
"""

from __future__ import annotations

from meta.adaptation.method import GroupShiftMethod

__all__ = ["ARMBN"]


class ARMBN(GroupShiftMethod):
    sampling = "groups"
    train_stats = "group"
    test_stats = "group"
