"""Many copies of one task's training, each under its own (perturbed) learned optimizer, advanced together.

``ParticleUnroll`` holds 2P particles (the antithetic pairs of ES), each with
its own task parameters and optimizer state, stacked on a leading dimension;
one inner step is one ``torch.func.vmap`` over the particles of (gradient of
the task loss, meta-model step), every particle reading the same minibatch
(common random numbers: the pair's loss difference then measures the
optimizers, not the batches).

The meta-objective of a truncation is the mean over its steps of the log
training loss, each loss first capped at ``LOSS_CAP`` times the task's
initial loss and floored at ``LOSS_FLOOR``: log so that tasks whose losses
differ in scale count alike, capped so that a diverging perturbation gives a
large loss instead of a NaN that would poison the gradient estimate.  With
``late_weight`` p > 0 the step at fraction f of the horizon counts
(p + 1) f^p (a mean weight of 1 over the unroll): the objective leans
toward the final loss, which is what the speedup metric scores, instead of
the area under the whole curve (p = 0, every step alike).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor
from torch.func import grad_and_value, vmap

from meta.lopt.model import LearnedOptimizerModel
from meta.lopt.tasks import Task

__all__ = ["ParticleUnroll", "LOSS_CAP"]

LOSS_CAP = 3.0
#: a loss of exactly 0 (a saturated softmax) would be log 0 = -inf: an estimate no step could recover from
LOSS_FLOOR = 1e-8


def _stack(tensors: Mapping[str, Tensor] | list, copies: int):
    if isinstance(tensors, Mapping):
        return {key: value.unsqueeze(0).repeat(copies, *[1] * value.dim()) for key, value in tensors.items()}
    return [value.unsqueeze(0).repeat(copies, *[1] * value.dim()) for value in tensors]


class ParticleUnroll:
    def __init__(self, model: LearnedOptimizerModel, task: Task, particles: int, horizon: int, late_weight: float = 0.0) -> None:
        self.model, self.task, self.particles, self.horizon = model, task, particles, horizon
        self.late_weight = late_weight
        params = task.init_params()
        self.params = _stack(params, particles)
        self.states = [_stack(model.init_tensor_state(p), particles) for p in params]
        self.global_state = _stack(model.init_global_state(task.device), particles)
        self.step_count, self.diverged = 0, False
        with torch.no_grad():
            self.log_cap = math.log(LOSS_CAP * float(task.full_loss(params)))

        def one_step(theta, params, states, global_state, inputs, targets, fraction):
            grads, loss = grad_and_value(task.loss)(params, inputs, targets)
            new = model.step(theta, params, grads, states, global_state, fraction_trained=fraction, loss=loss)
            return (loss, *new)

        self._step = vmap(one_step, in_dims=(0, 0, 0, 0, None, None, None))

    @property
    def done(self) -> bool:
        """At the horizon, or every particle's loss at the cap (nothing left to compare: start another task)."""
        return self.step_count >= self.horizon or self.diverged

    @torch.no_grad()
    def advance(self, thetas: Mapping[str, Tensor], steps: int) -> Tensor:
        """Run ``steps`` inner steps (fewer at the horizon); each particle's mean capped log loss ``[particles]``."""
        total = torch.zeros(self.particles, device=self.task.device)
        count = 0
        while count < steps and not self.done:
            inputs, targets = self.task.batch(self.step_count)
            fraction = torch.tensor(self.step_count / self.horizon, device=self.task.device)
            loss, self.params, self.states, self.global_state = self._step(
                thetas, self.params, self.states, self.global_state, inputs, targets, fraction)
            log_loss = torch.nan_to_num(loss.clamp(min=LOSS_FLOOR).log(), nan=self.log_cap).clamp(max=self.log_cap)
            total += log_loss * self.step_weight(self.step_count)  # exactly log_loss at p = 0
            self.step_count += 1
            count += 1
        self.diverged = bool((log_loss >= self.log_cap).all()) if count else self.diverged
        return total / max(count, 1)

    def step_weight(self, step: int) -> float:
        """How much inner step ``step`` counts in the objective: ``(p + 1) f^p`` at the fraction f = (step + 1) / horizon."""
        return (self.late_weight + 1.0) * ((step + 1) / self.horizon) ** self.late_weight

    def state_dict(self) -> dict:
        return {"task": self.task.config, "horizon": self.horizon, "step_count": self.step_count, "diverged": self.diverged,
                "params": self.params, "states": self.states, "global_state": self.global_state}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.diverged = int(state["step_count"]), bool(state["diverged"])
        self.params, self.states, self.global_state = state["params"], state["states"], state["global_state"]
