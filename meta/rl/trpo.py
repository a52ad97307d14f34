"""Trust-region policy optimization as an optimizer of any differentiable surrogate.

Schulman, Levine, Moritz, Jordan & Abbeel, "Trust Region Policy Optimization"
(ICML 2015), Sec. 6 and Appendix C: minimize the surrogate loss L subject to
the mean KL divergence D <= delta by (1) the natural-gradient direction x with
F x = -g, found by conjugate gradient from Fisher-vector products (F is the
Hessian of D at the current parameters; a product is a double backward pass,
never the matrix), (2) the largest step along x that the quadratic model of D
allows, sqrt(2 delta / x^T F x), and (3) a backtracking line search that
accepts the first shrunk step that lowers L and keeps D <= delta, or none.

The surrogate and the KL come from one closure over the parameters, so MAML's
outer step (``meta.rl.maml_trpo``) passes one that runs the inner adaptation inside:
the Fisher-vector products then differentiate through the inner step, as
MAML-TRPO needs (Finn et al., 2017, Sec. 5.3). Written here because the
libraries that ship TRPO (stable-baselines3-contrib, garage) take a policy and
rollouts, not a closure through an inner loop.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector, vector_to_parameters


class TRPOStep(NamedTuple):
    accepted: bool  #: whether a step was taken (False: the parameters are unchanged)
    loss_before: float
    loss_after: float
    kl: float  #: the KL divergence after the step (0 when rejected)
    backtracks: int  #: shrinkings of the full step before it was accepted (max_backtracks when rejected)


def conjugate_gradient(matrix_vector: Callable[[Tensor], Tensor], b: Tensor, iterations: int = 10,
                       residual_tolerance: float = 1e-10) -> Tensor:
    """Approximately solve A x = b for symmetric positive-definite A given only ``matrix_vector(v) = A v``."""
    x = torch.zeros_like(b)
    residual, direction = b.clone(), b.clone()
    residual_norm = residual @ residual
    for _ in range(iterations):
        if residual_norm < residual_tolerance:
            break
        product = matrix_vector(direction)
        alpha = residual_norm / (direction @ product)
        x += alpha * direction
        residual -= alpha * product
        new_norm = residual @ residual
        direction = residual + (new_norm / residual_norm) * direction
        residual_norm = new_norm
    return x


def trpo_step(params: Sequence[Tensor], objectives: Callable[[], tuple[Tensor, Tensor]], *, max_kl: float,
              cg_iterations: int = 10, damping: float = 1e-5, backtrack_ratio: float = 0.8,
              max_backtracks: int = 15) -> TRPOStep:
    """One TRPO update of ``params`` (in place): minimize the loss with the KL at most ``max_kl``.

    ``objectives()`` returns ``(loss, kl)`` at the current values of ``params``,
    the KL being the divergence from the policy as it was when this was called
    (0 there); one call gives both, so a closure that runs an inner step runs it
    once per point evaluated. ``damping`` adds a multiple of the identity to the
    Fisher matrix, as garage and metaworld-algorithms do, so conjugate gradient
    stays well posed.
    """
    params = list(params)
    loss, kl = objectives()
    gradient = parameters_to_vector(torch.autograd.grad(loss, params, retain_graph=True))
    kl_gradient = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))

    def fisher_vector(v: Tensor) -> Tensor:
        return parameters_to_vector(torch.autograd.grad(kl_gradient @ v, params, retain_graph=True)) + damping * v

    direction = conjugate_gradient(fisher_vector, -gradient, cg_iterations)
    curvature = float(direction @ fisher_vector(direction))
    loss_before = float(loss.detach())
    if not (math.isfinite(curvature) and curvature > 0):
        return TRPOStep(False, loss_before, loss_before, 0.0, max_backtracks)
    full_step = math.sqrt(2.0 * max_kl / curvature) * direction
    with torch.no_grad():
        start = parameters_to_vector(params).clone()
        for backtracks in range(max_backtracks):
            vector_to_parameters(start + backtrack_ratio**backtracks * full_step, params)
            loss_after, kl_after = (float(value) for value in objectives())
            if loss_after < loss_before and kl_after <= max_kl:
                return TRPOStep(True, loss_before, loss_after, kl_after, backtracks)
        vector_to_parameters(start, params)
    return TRPOStep(False, loss_before, loss_before, 0.0, max_backtracks)
