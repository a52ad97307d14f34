"""Meta-training a learned optimizer through the shared loop (``python -m launch train lopt-mlp|lopt-nominal|lopt-velo``).

One ``step()`` is one meta-iteration: for each of ``tasks_per_iteration``
tasks (``meta.lopt.tasks``' family), ``pairs`` antithetic perturbations of
the meta-weights train 2 x ``pairs`` copies of the task side by side
(``meta.lopt.unroll``) for one truncation (PES) or one whole unroll (ES);
the estimates (``meta.lopt.es``) are averaged and Adam takes one step on the
meta-weights.  A task is unrolled for a horizon drawn log-uniform between
``min_horizon`` and a ceiling that grows to ``max_horizon`` over the
``curriculum``, as its networks widen from 16 to 64 units (VeLO's curriculum
of growing tasks and unrolls, in small).  ``evaluate()`` trains held-out
tasks with the current optimizer and scores each against Adam's envelope
over learning rates on the same task (``meta.lopt.evaluation``).  The
in-flight unrolls are part of the checkpoint, so a resumed run continues
exactly.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from dataclasses import asdict
from typing import ClassVar

import numpy as np
import torch

from envs.report import EvalReport
from meta.lopt.config import MetaTrainingConfig, MLPOptimizerConfig
from meta.lopt.es import FlatTheta, PersistentPerturbations, antithetic_gradient, sample_perturbations
from meta.lopt.evaluation import adam_envelope, speedup, train_curve
from meta.lopt.model import build_meta_model, save_meta_weights
from meta.lopt.optimizer import LearnedOptimizer
from meta.lopt.tasks import Task, TaskConfig, held_out_tasks, sample_task
from meta.lopt.unroll import ParticleUnroll
from meta.saved_state import check_saved_learner

__all__ = ["MetaTrainer"]


class MetaTrainer:
    unit: ClassVar[str] = "meta_iterations"
    default_budget: ClassVar[int] = 1500
    default_eval_every: ClassVar[int] = 500

    def __init__(self, config: MetaTrainingConfig, *, device: torch.device, seed: int) -> None:
        self.config, self.device, self.seed = config, torch.device(device), seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = build_meta_model(config.architecture, config.model_config()).to(self.device)
        if isinstance(config, MLPOptimizerConfig) and config.output_init == "zero":
            self.model.zero_output_layer()
        self.flat = FlatTheta(self.model.theta())
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.rng = np.random.default_rng([seed, 0x10F7])
        self.generator = torch.Generator().manual_seed(seed)
        self.unrolls: list[ParticleUnroll | None] = [None] * config.tasks_per_iteration
        self.perturbation_sums = [PersistentPerturbations(config.pairs, self.flat.dim, self.device)
                                  for _ in range(config.tasks_per_iteration)]
        self.eval_tasks = held_out_tasks(config.eval_tasks)
        self._envelopes: dict[TaskConfig, np.ndarray] = {}
        self.iterations, self.mean_norm = 0, 0.0

    @property
    def name(self) -> str:
        return f"lopt-{self.config.architecture}"

    def progress(self) -> int:
        return self.iterations

    def _curriculum(self) -> tuple[int, int]:
        """(the longest horizon, the widest layer) tasks are drawn with now."""
        done = min(1.0, self.iterations / self.config.curriculum)
        low, high = self.config.min_horizon, self.config.max_horizon
        return int(round(low * (high / low) ** done)), 16 if done < 1 / 3 else 32 if done < 2 / 3 else 64

    def _new_unroll(self, slot: int) -> ParticleUnroll:
        ceiling, width = self._curriculum()
        low = self.config.min_horizon
        horizon = int(round(math.exp(self.rng.uniform(math.log(low), math.log(max(ceiling, low))))))
        task = Task(sample_task(self.rng, max_width=width), self.device)
        self.perturbation_sums[slot].reset()
        return ParticleUnroll(self.model, task, 2 * self.config.pairs, horizon, self.config.late_weight)

    def step(self) -> dict[str, float]:
        config = self.config
        theta = self.flat.flatten(self.model.theta())
        estimates, objectives = [], []
        for slot in range(config.tasks_per_iteration):
            if self.unrolls[slot] is None or self.unrolls[slot].done or config.estimator == "es":
                self.unrolls[slot] = self._new_unroll(slot)
            unroll = self.unrolls[slot]
            noise = sample_perturbations(config.pairs, self.flat.dim, config.sigma, self.generator, self.device)
            thetas = self.flat.unflatten(torch.cat([theta + noise, theta - noise]))
            losses = unroll.advance(thetas, config.truncation if config.estimator == "pes" else unroll.horizon)
            plus, minus = losses[:config.pairs], losses[config.pairs:]
            if config.estimator == "pes":
                estimates.append(self.perturbation_sums[slot].gradient(noise, plus, minus, config.sigma))
            else:
                estimates.append(antithetic_gradient(plus, minus, noise, config.sigma))
            objectives.append(losses.mean())
        estimate = torch.stack(estimates).mean(0)
        norm = float(estimate.norm())
        if self.mean_norm > 0 and norm > config.clip * self.mean_norm:
            estimate = estimate * (config.clip * self.mean_norm / norm)
        self.mean_norm = norm if self.mean_norm == 0 else 0.9 * self.mean_norm + 0.1 * min(norm, config.clip * self.mean_norm)
        gradient = self.flat.unflatten(estimate)
        for name, param in self.model.named_parameters():
            param.grad = gradient[name].to(param.dtype)
        for group in self.optimizer.param_groups:
            group["lr"] = self.meta_lr()
        self.optimizer.step()
        self.iterations += 1
        ceiling, width = self._curriculum()
        return {"losses/meta_objective": float(torch.stack(objectives).mean()),
                "losses/meta_gradient_norm": norm,
                "charts/horizon_ceiling": float(ceiling), "charts/widest_layer": float(width), "charts/meta_lr": self.meta_lr()}

    def meta_lr(self) -> float:
        """The meta-weights' learning rate now: ``lr``, falling by half a cosine to a tenth over ``lr_decay``."""
        if not self.config.lr_decay:
            return self.config.lr
        done = min(1.0, self.iterations / self.config.lr_decay)
        return self.config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))

    def export(self, run_dir) -> list:
        """The meta-weights as ``<run_dir>/meta_weights.pt``, for ``load_meta_weights`` and ``LearnedOptimizer``."""
        return [save_meta_weights(self.model, Path(run_dir) / "meta_weights.pt")]

    def learned_optimizer(self, params, total_steps: int) -> LearnedOptimizer:
        return LearnedOptimizer(params, self.model, total_steps=total_steps)

    def evaluate(self) -> EvalReport:
        steps = self.config.eval_steps
        report = EvalReport(title=f"{self.name} at meta-iteration {self.iterations}: {steps} steps of each held-out task, "
                                  "against Adam's envelope over learning rates")
        for config in self.eval_tasks:
            task = Task(config, self.device)
            if config not in self._envelopes:
                self._envelopes[config] = adam_envelope(task, 2 * steps)[0]
            envelope = self._envelopes[config]
            curve = train_curve(task, self.learned_optimizer, steps)
            result = speedup(curve.final, envelope, curve.every, steps)
            report.add(str(config), final_loss=curve.final, tuned_adam_loss=float(envelope[steps // curve.every]),
                       speedup=result.value)
        return report

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"learner": f"{type(self).__name__}:{self.name}", "config": asdict(self.config),
                "iterations": self.iterations, "mean_norm": self.mean_norm, "meta_weights": copy.deepcopy(self.model.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "rng": copy.deepcopy(self.rng.bit_generator.state), "generator": self.generator.get_state(),
                "unrolls": [None if u is None else copy.deepcopy(u.state_dict()) for u in self.unrolls],
                "perturbation_sums": [p.accumulated.clone() for p in self.perturbation_sums]}

    def load_state_dict(self, state: dict) -> None:
        check_saved_learner(state, f"{type(self).__name__}:{self.name}", self.config)
        self.model.load_state_dict(state["meta_weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self.iterations, self.mean_norm = int(state["iterations"]), float(state["mean_norm"])
        for slot, saved in enumerate(state["unrolls"]):
            if saved is None:
                self.unrolls[slot] = None
                continue
            self.unrolls[slot] = ParticleUnroll(self.model, Task(saved["task"], self.device), 2 * self.config.pairs,
                                                saved["horizon"], self.config.late_weight)
            self.unrolls[slot].load_state_dict(saved)
        for sums, saved in zip(self.perturbation_sums, state["perturbation_sums"]):
            sums.accumulated = saved.to(self.device)
