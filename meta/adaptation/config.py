"""The configs of the group-shift learners: shared settings, and one subclass per method with its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "GroupShiftConfig", "ERMConfig", "UWConfig", "DRNNConfig", "DANNConfig", "ARMCMLConfig", "ARMBNConfig",
    "ARMLLConfig", "BNAdaptConfig", "TENTConfig", "check_config",
]


@dataclass(frozen=True)
class GroupShiftConfig:
    """Settings every group-shift learner shares (ARM repo's MNIST settings, scaled to digits)."""

    method: ClassVar[str] = ""

    dataset: str = "rotated-digits"
    """group-shift dataset: rotated-digits, digits-c or writers (meta.adaptation.datasets)"""
    data_seed: int = 0
    """seed the dataset is built from (one fixed dataset across learner seeds)"""
    meta_batch: int = 6
    """sub-batches per update (one group each, for the group-aware methods)"""
    support: int = 50
    """examples per sub-batch, and per unlabeled evaluation batch a model may adapt with"""
    lr: float = 1e-3
    """Adam learning rate"""
    weight_decay: float = 0.0
    """Adam weight decay"""
    width: int = 16
    """channels of the conv net's first block (the next two have twice as many)"""


@dataclass(frozen=True)
class ERMConfig(GroupShiftConfig):
    """Empirical risk minimization: i.i.d. batches from the training distribution."""

    method: ClassVar[str] = "erm"


@dataclass(frozen=True)
class UWConfig(GroupShiftConfig):
    """Upweighting: i.i.d. batches from the training distribution reweighted uniform over groups."""

    method: ClassVar[str] = "uw"


@dataclass(frozen=True)
class DRNNConfig(GroupShiftConfig):
    """Group DRO (Sagawa, Koh et al., ICLR 2020): minimize the loss of an adversarial mix of groups."""

    method: ClassVar[str] = "drnn"
    robust_step_size: float = 0.01
    """step size eta of the exponentiated-gradient ascent on the group weights (the ARM repo's 0.01)"""


@dataclass(frozen=True)
class DANNConfig(GroupShiftConfig):
    """Domain-adversarial training (Ganin et al., JMLR 2016): features a group classifier cannot tell apart."""

    method: ClassVar[str] = "dann"
    domain_weight: float = 1.0
    """largest weight of the reversed group-classification gradient"""
    ramp_updates: int = 1000
    """updates over which that weight rises from 0 (Ganin et al.'s 2 / (1 + exp(-10 p)) - 1)"""


@dataclass(frozen=True)
class ARMCMLConfig(GroupShiftConfig):
    """ARM-CML: a context net averaged over the unlabeled batch, fed to the model as extra channels."""

    method: ClassVar[str] = "arm-cml"
    context_channels: int = 12
    """channels of the context image (the ARM repo's 12 for MNIST)"""
    context_hidden: int = 16
    """channels of the context net's hidden convolutions"""


@dataclass(frozen=True)
class ARMBNConfig(GroupShiftConfig):
    """ARM-BN: batch norm with each sub-batch's own statistics, in training and at test time."""

    method: ClassVar[str] = "arm-bn"


@dataclass(frozen=True)
class ARMLLConfig(GroupShiftConfig):
    """ARM-LL: one inner SGD step on a learned unsupervised loss of the batch, meta-learned through."""

    method: ClassVar[str] = "arm-ll"
    inner_lr: float = 0.1
    """inner SGD learning rate (the ARM repo's 0.1)"""
    inner_steps: int = 1
    """inner SGD steps on the learned loss"""
    first_order: bool = False
    """drop the second-order term of the meta-gradient (FOMAML-style)"""
    loss_hidden: int = 32
    """width of the learned loss's three hidden layers"""


@dataclass(frozen=True)
class BNAdaptConfig(GroupShiftConfig):
    """BN-adapt (Schneider et al., NeurIPS 2020): ERM, then each test batch's batch-norm statistics."""

    method: ClassVar[str] = "bn-adapt"


@dataclass(frozen=True)
class TENTConfig(GroupShiftConfig):
    """TENT (Wang et al., ICLR 2021): ERM, then entropy minimization of the batch-norm affine parameters."""

    method: ClassVar[str] = "tent"
    tent_lr: float = 1e-3
    """Adam learning rate of the test-time updates (TENT's CIFAR setting)"""
    tent_steps: int = 1
    """test-time updates per unlabeled batch"""


def check_config(config: GroupShiftConfig) -> None:
    """Raise a ValueError naming the bad field and what it accepts."""
    from meta.adaptation.datasets import check_dataset_name

    check_dataset_name(config.dataset)
    counts = {f: getattr(config, f) for f in ("meta_batch", "support", "width", "inner_steps", "tent_steps",
                                               "context_channels", "context_hidden", "loss_hidden", "ramp_updates")
              if hasattr(config, f)}
    bad = [f"{name}={value}" for name, value in counts.items() if not (isinstance(value, int) and value >= 1)]
    if bad:
        raise ValueError(f"{type(config).__name__} needs positive integers, got {', '.join(bad)}")
    rates = {f: getattr(config, f) for f in ("lr", "inner_lr", "tent_lr", "robust_step_size") if hasattr(config, f)}
    bad = [f"{name}={value}" for name, value in rates.items() if not value > 0]
    if bad:
        raise ValueError(f"{type(config).__name__} needs positive rates, got {', '.join(bad)}")
    weights = {f: getattr(config, f) for f in ("weight_decay", "domain_weight") if hasattr(config, f)}
    bad = [f"{name}={value}" for name, value in weights.items() if value < 0]
    if bad:
        raise ValueError(f"{type(config).__name__} needs non-negative weights, got {', '.join(bad)}")
    if config.data_seed < 0:
        raise ValueError(f"data_seed must be a non-negative integer, got {config.data_seed}")
