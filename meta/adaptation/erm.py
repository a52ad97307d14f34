"""ERM and the baselines that train as ERM does: UW (upweighting groups) and BN-adapt.

* ERM: minibatches i.i.d. from the (skewed) training distribution.
* UW: i.i.d. from the training distribution reweighted so every group weighs
  the same (the ARM paper's "upweighted" baseline, Sec. 6).
* BN-adapt (Schneider et al., "Improving robustness against common corruptions
  by covariate shift adaptation", NeurIPS 2020): ERM's training; at test time
  batch norm takes the statistics of the unlabeled test batch instead of the
  running ones.
"""

from __future__ import annotations

from meta.adaptation.method import GroupShiftMethod

__all__ = ["ERM", "UW", "BNAdapt"]


class ERM(GroupShiftMethod):
    sampling = "examples"


class UW(GroupShiftMethod):
    sampling = "uniform"


class BNAdapt(GroupShiftMethod):
    sampling = "examples"
    test_stats = "group"
