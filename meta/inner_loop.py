"""The functional inner loop shared by every gradient-based meta-learner.

MAML (Finn, Abbeel & Levine, 2017, Algorithm 1 / eq. 1) adapts parameters
with a few gradient steps on a task's support set and meta-learns through
those steps; Meta-SGD (Li et al., 2017, eq. 3) also meta-learns the inner
learning rates; MSR (Zhou, Knowles & Finn, ICLR 2021, Algorithm 1) adapts
only part of the parameters (the filter ``v``) and meta-learns the rest (the
sharing pattern ``U``).  One ``InnerLoop`` covers all three:

* the model is called functionally (``torch.func.functional_call``) with a
  dict of parameters, so adapted parameters are plain tensors, never module
  clones;
* the inner gradient is ``torch.func.grad`` of the support loss with respect
  to the parameters named as *inner*; every other parameter stays fixed
  inside the task and is learned only by the outer optimizer;
* every inner parameter has a learned scalar learning rate, one per
  parameter tensor by default or one per named group (``lr_groups``, e.g.
  a layer's weight and bias sharing one rate: the authors' "per layer" mode);
* outer gradients flow through the inner steps (the ``create_graph`` of
  ``torch.autograd.grad``): ``torch.func.grad`` composes with ordinary autograd,
  so the adapted parameters stay differentiable functions of the
  initialisation, the outer-only parameters and the learning rates;
  ``first_order=True`` cuts that second-order path as in FOMAML;
* ``torch.func.vmap`` maps the adapt-then-evaluate computation over the tasks
  of a meta-batch in one batched call;
* targets may be tuples of tensors (the loss receives the tuple): MAML's
  policy-gradient inner loss (``meta.rl.maml``) reads a rollout's actions and
  advantages where a regression loss reads labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from torch.utils._pytree import tree_leaves

__all__ = ["InnerLoop", "mse_loss"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def mse_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over every element (``F.mse_loss``, mean reduction)."""
    return F.mse_loss(prediction, target)


def _lr_key(name: str) -> str:
    # ParameterDict keys may not contain dots.
    return name.replace(".", "__")


class InnerLoop(nn.Module):
    """Adapt the ``inner`` parameters of ``model`` with ``steps`` SGD steps per task.

    ``parameters()`` of this module are every meta-parameter: the model's
    parameters (initialisations of inner ones, outer-only ones) and the
    learned inner learning rates.  Hand them all to the outer optimizer.
    """

    def __init__(
        self,
        model: nn.Module,
        inner: Sequence[str],
        *,
        steps: int = 1,
        lr_init: float = 0.1,
        learn_lr: bool = True,
        lr_groups: Mapping[str, str] | None = None,
        loss: LossFn = mse_loss,
    ) -> None:
        super().__init__()
        names = dict(model.named_parameters())
        inner = list(inner)
        if not inner:
            raise ValueError(f"inner must name at least one parameter of the model; it has {sorted(names)}")
        unknown = [n for n in inner if n not in names]
        if unknown:
            raise ValueError(f"inner names {unknown} are not parameters of the model; it has {sorted(names)}")
        if len(set(inner)) != len(inner):
            raise ValueError(f"inner names must be distinct, got {inner}")
        if steps < 1:
            raise ValueError(f"steps must be a positive number of inner SGD steps, got {steps}")
        if not lr_init > 0:
            raise ValueError(f"lr_init must be a positive learning rate, got {lr_init}")
        self.model = model
        self.inner = tuple(inner)
        self.outer_only = tuple(n for n in names if n not in self.inner)
        self.steps = steps
        self.loss = loss
        if lr_groups is None:
            lr_groups = {n: n for n in self.inner}
        elif set(lr_groups) != set(self.inner):
            raise ValueError(
                f"lr_groups must give a group to exactly the inner parameters {sorted(self.inner)}; got {sorted(lr_groups)}"
            )
        self.lr_groups = {n: _lr_key(lr_groups[n]) for n in self.inner}
        self.lrs = nn.ParameterDict(
            {g: nn.Parameter(torch.tensor(float(lr_init)), requires_grad=learn_lr) for g in self.lr_groups.values()}
        )

    # ----------------------------------------------------------------- pieces
    def lr(self, name: str) -> Tensor:
        """The learned inner learning rate of inner parameter ``name`` (its group's)."""
        return self.lrs[self.lr_groups[name]]

    def initial(self) -> dict[str, Tensor]:
        """The inner parameters' meta-learned initialisation (live, differentiable)."""
        params = dict(self.model.named_parameters())
        return {n: params[n] for n in self.inner}

    def predict(self, inner_params: Mapping[str, Tensor], x: Tensor) -> Tensor:
        """The model's output on ``x`` with ``inner_params`` in place of its inner parameters."""
        return functional_call(self.model, dict(inner_params), (x,), strict=False)

    def _support_loss(self, inner_params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return self.loss(self.predict(inner_params, x), y)

    # ----------------------------------------------------------------- one task
    def adapt(
        self,
        x_support: Tensor,
        y_support: Tensor,
        inner_params: Mapping[str, Tensor] | None = None,
        *,
        first_order: bool = False,
    ) -> dict[str, Tensor]:
        """One task's adapted inner parameters after ``steps`` SGD steps on its support set."""
        params = dict(self.initial() if inner_params is None else inner_params)
        gradient = grad(self._support_loss)
        for _ in range(self.steps):
            grads = gradient(params, x_support, y_support)
            if first_order:
                grads = {n: g.detach() for n, g in grads.items()}
            params = {n: p - self.lr(n) * grads[n] for n, p in params.items()}
        return params

    def task_loss(
        self, x_support: Tensor, y_support: Tensor, x_query: Tensor, y_query: Tensor, *, first_order: bool = False
    ) -> Tensor:
        """Query loss of one task after adapting on its support set (a scalar)."""
        adapted = self.adapt(x_support, y_support, first_order=first_order)
        return self.loss(self.predict(adapted, x_query), y_query)

    # ----------------------------------------------------------------- meta-batch
    def batch_adapt(self, x_support: Tensor, y_support, *, first_order: bool = False) -> dict[str, Tensor]:
        """Adapted inner parameters for every task: each tensor gains a leading task axis."""
        _check_batch(x_support, y_support, None, None)
        return vmap(lambda xs, ys: self.adapt(xs, ys, first_order=first_order))(x_support, y_support)

    def batch_predict(self, adapted: Mapping[str, Tensor], x: Tensor) -> Tensor:
        """Per-task predictions: ``adapted`` from ``batch_adapt``, ``x`` of shape (tasks, examples, ...)."""
        return vmap(self.predict)(dict(adapted), x)

    def batch_task_loss(
        self, x_support: Tensor, y_support: Tensor, x_query: Tensor, y_query: Tensor, *, first_order: bool = False
    ) -> Tensor:
        """Per-task query losses, shape (tasks,): all tensors carry a leading task axis."""
        _check_batch(x_support, y_support, x_query, y_query)
        return vmap(lambda *t: self.task_loss(*t, first_order=first_order))(x_support, y_support, x_query, y_query)


def _check_batch(xs: Tensor, ys, xq: Tensor | None, yq) -> None:
    tensors = {"x_support": xs}
    tensors.update({f"y_support[{i}]": t for i, t in enumerate(tree_leaves(ys))})
    if xq is not None:
        tensors["x_query"] = xq
        tensors.update({f"y_query[{i}]": t for i, t in enumerate(tree_leaves(yq))})
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if any(t.dim() < 2 for t in tensors.values()):
        raise ValueError(f"meta-batch tensors need shape (tasks, examples, ...); got {shapes}")
    if len({t.shape[0] for t in tensors.values()}) != 1:
        raise ValueError(f"every meta-batch tensor needs the same number of tasks (axis 0); got {shapes}")
