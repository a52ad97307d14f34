"""The configs of learned-optimizer meta-training: what every meta-trainer shares, and each architecture's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = ["MetaTrainingConfig", "MLPOptimizerConfig", "NominalAdamConfig", "VeLOConfig"]


@dataclass(frozen=True)
class MetaTrainingConfig:
    """Meta-training by ES over truncated unrolls of tasks sampled from ``meta.lopt.tasks`` ' family."""

    architecture: ClassVar[str]

    estimator: Literal["pes", "es"] = "pes"
    """pes: Persistent ES over truncations (unbiased, Vicol et al. 2021); es: antithetic ES over whole unrolls"""
    pairs: int = 8
    """antithetic pairs of perturbations per task (2 x pairs particles trained side by side)"""
    sigma: float = 0.01
    """standard deviation of the meta-weights' perturbations"""
    lr: float = 1e-3
    """Adam learning rate of the meta-weights (at 3e-3 the MLP optimizer's steps outgrew stability within 200 iterations)"""
    tasks_per_iteration: int = 4
    """tasks (each with its own particles) whose estimates one meta-iteration averages"""
    lr_decay: int = 0
    """meta-iterations over which the meta-weights' learning rate falls (half a cosine) to a tenth, then stays there:
    a quieter end of meta-training (0: constant).  The speedup of the final meta-weights swings by tenths between
    neighbouring meta-iterations at a constant rate"""
    clip: float = 3.0
    """an estimate longer than clip x the running mean of the estimates' norms is scaled down to it (a diverging
    particle's estimate can be a hundred times the usual one, and would swamp Adam's second moments for a thousand steps)"""
    truncation: int = 20
    """inner steps per truncation (pes)"""
    late_weight: float = 0.0
    """p: the inner step at fraction f of its unroll counts (p + 1) f^p in the meta-objective, leaning it toward the
    final loss (what the speedup scores); 0: every step alike, the mean log loss over the unroll"""
    min_horizon: int = 50
    """shortest inner training a task is unrolled for (horizons are log-uniform between the two)"""
    max_horizon: int = 500
    """longest inner training, reached at the end of the curriculum"""
    curriculum: int = 300
    """meta-iterations over which the longest horizon grows from min_horizon to max_horizon and tasks widen to 64 units"""
    eval_tasks: int = 4
    """held-out tasks each evaluation trains on (a tenth of the family's held-out set is enough to follow training)"""
    eval_steps: int = 200
    """inner steps of each evaluation's training, scored against Adam's envelope over the same task"""

    def __post_init__(self) -> None:
        if self.lr_decay < 0:
            raise ValueError(f"lr_decay must be 0 (constant) or positive, got {self.lr_decay}")
        for name in ("pairs", "tasks_per_iteration", "truncation", "min_horizon", "max_horizon", "curriculum",
                     "eval_tasks", "eval_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.min_horizon > self.max_horizon:
            raise ValueError(f"min_horizon ({self.min_horizon}) exceeds max_horizon ({self.max_horizon})")
        if self.late_weight < 0:
            raise ValueError(f"late_weight must be >= 0 (0: every step alike), got {self.late_weight}")
        if not (self.sigma > 0 and self.lr > 0 and self.clip > 0):
            raise ValueError(f"sigma, lr and clip must be positive, got sigma={self.sigma}, lr={self.lr}, clip={self.clip}")

    def model_config(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class MLPOptimizerConfig(MetaTrainingConfig):
    """A per-parameter MLP optimizer (learned_optimization's AdafacMLPLOpt)."""

    architecture: ClassVar[str] = "mlp"
    hidden: tuple[int, ...] = (32, 32)
    """hidden widths of the per-parameter MLP"""
    output_init: Literal["fan_in", "zero"] = "fan_in"
    """the MLP's output layer when meta-training starts: fan_in (truncated normal, as its hidden layers) or zero (the
    untrained MLP steps nothing: lopt-mlp stands still and lopt-nominal is exactly its Adam term, so what the MLP
    adds later is only what ES found to help)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.output_init not in ("fan_in", "zero"):
            raise ValueError(f"output_init must be 'fan_in' or 'zero', got {self.output_init!r}")

    def model_config(self) -> dict:
        return {"hidden": list(self.hidden)}


@dataclass(frozen=True)
class NominalAdamConfig(MLPOptimizerConfig):
    """The per-parameter MLP on a nominal Adam term with a learned schedule (Harrison et al. 2022)."""

    architecture: ClassVar[str] = "nominal"
    lr_decay: int = 1000
    nominal_lr: float = 0.01
    """Adam learning rate of the nominal term before the learned schedule scales it (tuned Adam's best rates on the
    held-out tasks are 0.01-0.03)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.nominal_lr > 0:
            raise ValueError(f"nominal_lr must be positive, got {self.nominal_lr}")

    def model_config(self) -> dict:
        return {**super().model_config(), "nominal_lr": self.nominal_lr}


@dataclass(frozen=True)
class VeLOConfig(MetaTrainingConfig):
    """A VeLO-style hierarchical optimizer (Metz et al. 2022): a tensor LSTM mixing a bank of per-parameter MLPs."""

    architecture: ClassVar[str] = "velo"
    lstm_hidden: int = 32
    """units of the per-tensor LSTM (the paper: 512)"""
    bank: int = 16
    """per-parameter MLPs the LSTM mixes (the paper: 256)"""
    mlp_hidden: tuple[int, ...] = (4, 4)
    """hidden widths of each per-parameter MLP (the paper: 2 layers of 4)"""

    def model_config(self) -> dict:
        return {"lstm_hidden": self.lstm_hidden, "bank": self.bank, "mlp_hidden": list(self.mlp_hidden)}
