"""A learned optimizer on a nominal Adam term (Harrison, Metz & Sohl-Dickstein, "A Closer Look at Learned
Optimization: Stability, Robustness, and Inductive Biases", NeurIPS 2022, section 4).

Harrison et al. show that a per-parameter learned optimizer is far more stable,
and generalises further, when its update is a hand-designed optimizer's step
plus the learned network's: far from its meta-training distribution it falls
back on Adam instead of on nothing.  Here the update of each element is

    nominal_lr * exp(schedule) * adam_direction  +  mlp_step

- ``adam_direction`` is Adam's bias-corrected ``m / (sqrt(v) + eps)`` from the
  accumulators every optimizer here keeps (``meta.lopt.accumulators``);
- ``schedule = schedule_mult * (w . progress_embedding(fraction_trained) + b)``
  is a learned learning-rate schedule over the fraction of training done
  (VeLO's progress embedding, ``w`` and ``b`` meta-weights started at zero, so
  an untrained optimizer is Adam at ``nominal_lr``); ``schedule_mult`` scales
  the meta-weights up so that ES, whose perturbations and Adam steps are a
  fixed size in meta-weight space, can move the log learning rate by units
  within a few hundred meta-iterations (the papers' ``exp_mult`` trick, the
  other way round);
- ``mlp_step`` is ``meta.lopt.mlp``'s per-parameter MLP (Metz et al.'s
  ``AdafacMLPLOpt``) over the same features, a learned correction of Adam.

Where this differs from the paper: Harrison et al. meta-learn a per-parameter
magnitude on the nominal term; here its scale is one schedule shared by every
tensor, the part of the design that a tuned constant-rate Adam lacks (a decay
that Adam's learning-rate sweep does not search) and that ES finds quickly.
"""

from __future__ import annotations

import torch
from torch import nn

from meta.lopt.accumulators import FRACTION_CENTRES, adam_direction, progress_embedding
from meta.lopt.mlp import MLPOptimizer
from meta.lopt.model import register_architecture

__all__ = ["NominalAdamOptimizer"]


@register_architecture
class NominalAdamOptimizer(MLPOptimizer):
    """Meta-weights: the per-parameter MLP's ``w{i}``, ``b{i}``, and the schedule's ``schedule_w``, ``schedule_b``."""

    architecture = "nominal"

    def __init__(self, hidden: tuple[int, ...] = (32, 32), exp_mult: float = 0.001, step_mult: float = 0.001,
                 nominal_lr: float = 0.01, schedule_mult: float = 10.0) -> None:
        super().__init__(hidden, exp_mult, step_mult)
        if not (nominal_lr > 0 and schedule_mult > 0):
            raise ValueError(f"nominal_lr and schedule_mult must be positive, got {nominal_lr} and {schedule_mult}")
        self.nominal_lr, self.schedule_mult = nominal_lr, schedule_mult
        self.schedule_w = nn.Parameter(torch.zeros(len(FRACTION_CENTRES)))
        self.schedule_b = nn.Parameter(torch.zeros(()))

    def config(self) -> dict:
        return {**super().config(), "nominal_lr": self.nominal_lr, "schedule_mult": self.schedule_mult}

    def learning_rate(self, theta, fraction_trained) -> torch.Tensor:
        """The nominal term's learning rate at ``fraction_trained`` (what the learned schedule makes of ``nominal_lr``)."""
        embedding = progress_embedding(fraction_trained).to(theta["schedule_w"].dtype)
        log_scale = self.schedule_mult * (embedding @ theta["schedule_w"] + theta["schedule_b"])
        # a bound on the schedule keeps one bad perturbation from stepping a million times too far
        return self.nominal_lr * torch.exp(torch.clamp(log_scale, -10.0, 5.0))

    def tensor_steps(self, theta, params, grads, states, global_state, *, fraction_trained, loss):
        steps, states, global_state = super().tensor_steps(theta, params, grads, states, global_state,
                                                           fraction_trained=fraction_trained, loss=loss)
        lr = self.learning_rate(theta, fraction_trained)
        iteration = global_state["iteration"]
        steps = [step + (lr * adam_direction(state, iteration)).to(step.dtype) for step, state in zip(steps, states)]
        return steps, states, global_state
