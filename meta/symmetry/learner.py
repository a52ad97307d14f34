"""MSR and its MAML baselines on the synthetic 1-D regression family, as learners.

MSR (Zhou, Knowles & Finn, "Meta-Learning Symmetries by Reparameterization",
ICLR 2021, Algorithm 1): a layer's weight is ``vec(W) = U v``; one inner SGD
step (with a learned per-layer rate, Meta-SGD style) adapts the filter ``v``
on a task's support set, and the outer loop learns ``U``, the initial ``v``
and the rate from the query loss.  MAML (Finn, Abbeel & Levine, 2017) adapts
every weight of a fully connected, locally connected or convolutional layer
instead.  Both reproduce the paper's Table 1 (test MSE, k = 1 / 2 / 5):

=========  ==========  ==========  ==========
model      k = 1       k = 2       k = 5
=========  ==========  ==========  ==========
MAML-FC    3.2 ± .29   2.1 ± .15   .89 ± .05
MAML-LC    2.4 ± .23   1.6 ± .11   .81 ± .05
MAML-Conv  .16 ± .02   .52 ± .05   .44 ± .02
MSR-FC     .18 ± .03   .21 ± .02   .22 ± .01
=========  ==========  ==========  ==========

Setup from the authors' code: 1 support and 19 query examples per task,
meta-batch 32, query MSE summed over tasks, outer Adam 1e-3, inner rate
initialised at 0.1, ``U`` with 3, 6, 30 columns for k = 1, 2, 5; test MSE is
the mean query MSE over 300 meta-test tasks with a 95% t-interval.

Both classes follow the training loop's ``Algorithm`` protocol structurally:
``step()`` is one outer update, ``evaluate()`` an ``EvalReport`` with one row
(the problem) and columns ``test_mse`` and ``test_mse_ci95``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from torch import Tensor, nn

from envs.report import EvalReport
from meta.inner_loop import InnerLoop
from meta.symmetry.data import PROBLEMS, Problem, SymmetryTasks
from meta.symmetry.layers import Conv1dSignal, LocallyConnected1d, ReparamLinear, _positive
from meta.saved_state import check_saved_learner

__all__ = ["MSRConfig", "MAMLConfig", "MSR", "MAML", "PAPER_LATENT", "t_interval_95"]

#: columns of U per problem in the authors' code (the paper's Appendix B)
PAPER_LATENT: dict[str, int] = {"k1": 3, "k2": 6, "k5": 30}
MamlModel = Literal["fc", "lc", "conv"]


@dataclass(frozen=True)
class SyntheticMetaConfig:
    """Settings every learner of the synthetic symmetry family shares."""

    problem: Problem = "k1"
    """task family: rank of the locally connected generator (k1 = a convolution, k2/k5 = partial sharing)"""
    meta_batch: int = 32
    """tasks per outer update; their query losses are summed"""
    outer_lr: float = 1e-3
    """Adam learning rate of the outer loop (U, initial weights, inner rates)"""
    inner_lr: float = 0.1
    """initial value of each learned inner SGD rate"""
    inner_steps: int = 1
    """inner SGD steps on a task's support set"""
    support: int = 1
    """support examples per task (the other examples of the task's 20 are its query set)"""
    eval_tasks: int = 300
    """meta-test tasks that evaluate() adapts to and scores (a fixed, seeded subset)"""
    num_tasks: int = 10_000
    """size of the task family; the first 80% meta-train, the last 20% meta-test"""
    data_seed: int = 0
    """seed of the task family (one fixed data set across learner seeds, as in the paper)"""


@dataclass(frozen=True)
class MSRConfig(SyntheticMetaConfig):
    """MSR-FC: a fully connected layer reparametrized as W = reshape(U v)."""

    latent: int = 0
    """columns of U (size of v); 0 picks the paper's 3 / 6 / 30 for k1 / k2 / k5"""


@dataclass(frozen=True)
class MAMLConfig(SyntheticMetaConfig):
    """MAML with one bias-free layer whose every weight adapts."""

    model: MamlModel = "conv"
    """layer: fc (70x68 linear), lc (locally connected, kernel 3) or conv (one kernel-3 filter)"""


def t_interval_95(values: Tensor) -> float:
    """Half-width of the 95% Student-t interval of the mean of ``values``.

    The t quantile comes from the Cornish-Fisher expansion around the normal
    quantile (Abramowitz & Stegun 26.7.5), accurate to 1e-3 from 5 degrees of
    freedom on.
    """
    n = values.numel()
    if n < 2:
        raise ValueError(f"a confidence interval needs at least 2 values, got {n}")
    z, dof = 1.959963984540054, n - 1
    t = z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
    return float(t * values.std(unbiased=True) / math.sqrt(n))


class _SyntheticMetaLearner:
    """One outer update per ``step()``; the shared body of ``MSR`` and ``MAML``."""

    unit: ClassVar[str] = "meta_iterations"
    default_budget: ClassVar[int] = 3000
    default_eval_every: ClassVar[int] = 500
    name: ClassVar[str] = ""

    def __init__(self, config: SyntheticMetaConfig, *, device: torch.device, seed: int) -> None:
        _validate(config)
        self.config, self.device, self.seed = config, torch.device(device), seed
        self.data = SymmetryTasks(config.problem, config.data_seed, num_tasks=config.num_tasks)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build_model()
        self.inner = InnerLoop(model, self._inner_names(model), steps=config.inner_steps, lr_init=config.inner_lr)
        self.inner.to(self.device)
        self.optimizer = torch.optim.Adam(self.inner.parameters(), lr=config.outer_lr)
        self.rng = np.random.default_rng([seed, 1])
        eval_indices = self.data.sample_indices(
            "test", config.eval_tasks, np.random.default_rng([seed, 2]), replace=False
        )
        self._eval_batch = self._batch(eval_indices)
        self.iterations = 0

    # ------------------------------------------------------------ per learner
    def _build_model(self) -> nn.Module:
        raise NotImplementedError

    def _inner_names(self, model: nn.Module) -> list[str]:
        """Names of the parameters the inner loop adapts; the rest are outer-only."""
        raise NotImplementedError

    # ------------------------------------------------------------ protocol
    def progress(self) -> int:
        return self.iterations

    def _batch(self, indices) -> tuple[Tensor, ...]:
        x, y = self.data.tasks(indices)
        parts = self.data.split_support_query(x, y, self.config.support)
        return tuple(t.to(self.device) for t in parts)

    def step(self) -> dict[str, float]:
        indices = self.data.sample_indices("train", self.config.meta_batch, self.rng)
        losses = self.inner.batch_task_loss(*self._batch(indices))
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimizer.step()
        self.iterations += 1
        metrics = {"losses/query_mse": losses.detach().mean()}
        metrics.update({f"charts/inner_lr/{n}": self.inner.lr(n).detach() for n in self.inner.inner})
        return {k: float(v) for k, v in metrics.items()}

    def test_losses(self) -> Tensor:
        """Query MSE of every evaluation task after inner adaptation, shape (eval_tasks,)."""
        with torch.no_grad():
            return self.inner.batch_task_loss(*self._eval_batch)

    def evaluate(self) -> EvalReport:
        losses = self.test_losses().cpu()
        report = EvalReport(title=f"{self.name} on {self.config.problem} after {self.iterations} meta-iterations")
        report.add(self.config.problem, test_mse=float(losses.mean()), test_mse_ci95=t_interval_95(losses))
        return report

    def state_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "learner": type(self).__name__,
            "iterations": self.iterations,
            "params": {k: v.detach().cpu().clone() for k, v in self.inner.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),  # its tensors are live otherwise
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict) -> None:
        check_saved_learner(state, type(self).__name__, self.config)
        self.inner.load_state_dict(state["params"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.iterations = int(state["iterations"])


class MSR(_SyntheticMetaLearner):
    """Meta-learning symmetries by reparametrization: inner loop on ``v``, outer loop on ``U``."""

    name = "MSR-FC"

    def __init__(self, config: MSRConfig, *, device: torch.device, seed: int) -> None:
        if not isinstance(config, MSRConfig):
            raise TypeError(f"MSR takes an MSRConfig, got {type(config).__name__}")
        super().__init__(config, device=device, seed=seed)

    @property
    def latent(self) -> int:
        return self.config.latent or PAPER_LATENT[self.config.problem]

    def _build_model(self) -> nn.Module:
        return ReparamLinear(self.data.length, self.data.length_out, self.latent)

    def _inner_names(self, model: nn.Module) -> list[str]:
        return ["filter"]

    def sharing_pattern(self) -> Tensor:
        """The learned ``U`` as one (68, 70) weight pattern per column: shape (latent, 68, 70)."""
        layer = self.inner.model
        return layer.sharing.detach().cpu().T.reshape(self.latent, layer.out_features, layer.in_features)


class MAML(_SyntheticMetaLearner):
    """MAML with a fully connected, locally connected or convolutional layer; all weights adapt."""

    def __init__(self, config: MAMLConfig, *, device: torch.device, seed: int) -> None:
        if not isinstance(config, MAMLConfig):
            raise TypeError(f"MAML takes a MAMLConfig, got {type(config).__name__}")
        super().__init__(config, device=device, seed=seed)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"MAML-{dict(fc='FC', lc='LC', conv='Conv')[self.config.model]}"

    def _build_model(self) -> nn.Module:
        model = self.config.model
        if model == "fc":
            return nn.Linear(self.data.length, self.data.length_out, bias=False)
        if model == "lc":
            return LocallyConnected1d(self.data.length, self.data.kernel_size)
        return Conv1dSignal(self.data.kernel_size)

    def _inner_names(self, model: nn.Module) -> list[str]:
        return [name for name, _ in model.named_parameters()]


def _validate(config: SyntheticMetaConfig) -> None:
    if config.problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {config.problem!r}")
    _positive(meta_batch=config.meta_batch, inner_steps=config.inner_steps, eval_tasks=config.eval_tasks)
    if not (config.outer_lr > 0 and config.inner_lr > 0):
        raise ValueError(f"outer_lr and inner_lr must be positive, got {config.outer_lr} and {config.inner_lr}")
    if config.eval_tasks < 2:
        raise ValueError(f"eval_tasks must be at least 2 for a confidence interval, got {config.eval_tasks}")
    if isinstance(config, MAMLConfig) and config.model not in get_args(MamlModel):
        raise ValueError(f"model must be one of {get_args(MamlModel)}, got {config.model!r}")
    if isinstance(config, MSRConfig) and config.latent < 0:
        raise ValueError(f"latent must be 0 (the paper's size) or a positive number of U columns, got {config.latent}")
