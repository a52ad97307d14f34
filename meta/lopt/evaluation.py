"""Scoring an optimizer on a task: training curves, tuned Adam's lower envelope, and the speedup over it.

The metric (learned_optimization's normalisers; Celo and VeLO report it so):
Adam is run at every learning rate of ``ADAM_LRS`` for ``ADAM_HORIZON_MULT``
times the learned optimizer's steps; its lower envelope is, at each step,
the lowest full-training-set loss any of those rates has reached by then.
The speedup is the number of steps that envelope needs to reach the learned
optimizer's final loss, over the learned optimizer's steps: 1.0 means as
good as Adam tuned on this very task; an envelope that never gets there
within its longer horizon gives the horizon's ratio as a lower bound
(``reached`` says which).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from meta.lopt.optimizer import LearnedOptimizer
from meta.lopt.tasks import Task

__all__ = ["ADAM_LRS", "ADAM_HORIZON_MULT", "Curve", "train_curve", "adam_envelope", "Speedup", "speedup"]

ADAM_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
ADAM_HORIZON_MULT = 2


@dataclass
class Curve:
    losses: np.ndarray  # full-training-set loss at steps 0, every, 2 every, ...
    every: int
    seconds_per_step: float

    @property
    def final(self) -> float:
        return float(self.losses[-1])


def train_curve(task: Task, make_optimizer: Callable[[list[torch.Tensor], int], torch.optim.Optimizer], steps: int,
                every: int = 10) -> Curve:
    """Train ``task`` from its initial parameters for ``steps`` minibatch steps; the full loss every ``every`` steps.

    ``make_optimizer(params, steps)`` builds the optimizer (a learned one is
    told the training length); its ``step`` is given the minibatch loss."""
    params = [p.clone().requires_grad_(True) for p in task.init_params()]
    optimizer = make_optimizer(params, steps)
    losses, spent = [], 0.0
    for step in range(steps + 1):
        if step % every == 0:
            with torch.no_grad():
                losses.append(float(task.full_loss(params)))
        if step == steps:
            break
        inputs, targets = task.batch(step)
        started = time.perf_counter()
        loss = task.loss(params, inputs, targets)
        if not torch.isfinite(loss):  # diverged: the rest of the curve is infinitely bad, not an error
            losses += [np.inf] * (steps // every + 1 - len(losses))
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if isinstance(optimizer, LearnedOptimizer):
            optimizer.step(loss=loss.detach())  # VeLO's loss features
        else:
            optimizer.step()
        spent += time.perf_counter() - started
    losses = np.nan_to_num(np.array(losses), nan=np.inf)
    return Curve(losses, every, spent / max(step, 1))


def adam_envelope(task: Task, steps: int, every: int = 10, lrs=ADAM_LRS) -> tuple[np.ndarray, dict[float, Curve]]:
    """(Adam's lower envelope over ``lrs``, running minimum included, and each rate's curve)."""
    curves = {lr: train_curve(task, lambda params, _, lr=lr: torch.optim.Adam(params, lr=lr), steps, every) for lr in lrs}
    envelope = np.minimum.accumulate(np.min([curve.losses for curve in curves.values()], axis=0))
    return envelope, curves


@dataclass
class Speedup:
    value: float
    reached: bool  # False: Adam's envelope never reached the target; value is a lower bound


def speedup(target: float, envelope: np.ndarray, every: int, learned_steps: int) -> Speedup:
    hits = np.nonzero(envelope <= target)[0]
    if len(hits) == 0:
        return Speedup((len(envelope) - 1) * every / learned_steps, False)
    return Speedup(max(int(hits[0]) * every, 1) / learned_steps, True)
